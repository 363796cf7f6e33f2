#include "ops.h"
#include "sqz/kernels/cpu_clones.h"

namespace sqz::train {
namespace {

// dx += dy where the ReLU's output y is positive. Restrict pointers and unconditional loads,
// so that the loop vectorizes (the vectors live in one map; a conditional load cannot be
// speculated).
SQZ_CPU_CLONES void relu_backward_add(const float* __restrict y, const float* __restrict dy,
                                      size_t n, float* __restrict dx) {
  for (size_t k = 0; k < n; ++k) {
    const float g = dy[k], keep = y[k] > 0 ? 1.0f : 0.0f;
    dx[k] += g * keep;
  }
}

}  // namespace

SQZ_CPU_CLONES void relu_backward_set(const float* __restrict y, const float* __restrict dy,
                                      int64_t n, float* __restrict dx) {
  for (int64_t k = 0; k < n; ++k) {
    const float g = dy[k];
    dx[k] = y[k] > 0 ? g : 0.0f;
  }
}

void relu_forward(const std::vector<float>& in, std::vector<float>& out) {
  for (size_t k = 0; k < out.size(); ++k) out[k] = in[k] > 0 ? in[k] : 0.0f;
}

void relu_backward(const OpPass& op, const std::vector<float>& dy, const GradOf& grad_of) {
  const GradOut dx = grad_of(op.l.inputs[0]);
  const float* y = op.w.act.at(op.l.output).data();
  if (dx.fresh)
    relu_backward_set(y, dy.data(), static_cast<int64_t>(dx.g.size()), dx.g.data());
  else
    relu_backward_add(y, dy.data(), dx.g.size(), dx.g.data());
}

}  // namespace sqz::train
