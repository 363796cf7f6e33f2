#include "ops.h"

namespace sqz::train {

void avg_pool_forward(const OpPass& op, const std::vector<float>& in, std::vector<float>& out) {
  const int64_t plane = op.is[2] * op.is[3];
  for (int64_t bc = 0; bc < op.n * op.is[1]; ++bc) {
    double sum = 0;
    for (int64_t k = 0; k < plane; ++k) sum += in[bc * plane + k];
    out[bc] = static_cast<float>(sum / plane);
  }
}

void avg_pool_backward(const OpPass& op, const std::vector<float>& dy, const GradOf& grad_of) {
  std::vector<float>& dx = zeroed(grad_of(op.l.inputs[0]));
  const int64_t plane = op.is[2] * op.is[3];
  for (size_t k = 0; k < dx.size(); ++k)
    dx[k] += dy[static_cast<int64_t>(k) / plane] / static_cast<float>(plane);
}

}  // namespace sqz::train
