#include <algorithm>

#include "ops.h"

namespace sqz::train {

// [C][n][HW] to [C*HW][n]: the feature c*HW + p of image b. With HW = 1 (after global
// pooling, as in SqueezeNet) the order does not change.
void flatten_forward(const OpPass& op, const std::vector<float>& in, std::vector<float>& out) {
  const int64_t c = channels(op.is), hw = per_image(op.is) / c;
  if (hw == 1) {
    std::copy(in.begin(), in.end(), out.begin());
    return;
  }
  for (int64_t ch = 0; ch < c; ++ch)
    for (int64_t b = 0; b < op.n; ++b)
      for (int64_t p = 0; p < hw; ++p)
        out[((ch * hw + p) * op.n + b)] = in[(ch * op.n + b) * hw + p];
}

void flatten_backward(const OpPass& op, const std::vector<float>& dy, const GradOf& grad_of) {
  std::vector<float>& dx = zeroed(grad_of(op.l.inputs[0]));
  const int64_t c = channels(op.is), hw = per_image(op.is) / c;
  for (int64_t ch = 0; ch < c; ++ch)
    for (int64_t b = 0; b < op.n; ++b)
      for (int64_t p = 0; p < hw; ++p)
        dx[(ch * op.n + b) * hw + p] += dy[(ch * hw + p) * op.n + b];
}

}  // namespace sqz::train
