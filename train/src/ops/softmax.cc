#include "sqz/kernels/softmax.h"

#include "ops.h"

namespace sqz::train {

// The channel softmax. Channel-major, the shard is one "image" whose planes are the n images'
// planes side by side: the same sums per position.
void softmax_forward(const OpPass& op, const std::vector<float>& in, std::vector<float>& out) {
  const int64_t c = channels(op.os), inner = op.n * per_image(op.os) / c;
  kernels::softmax_f32(in.data(), 1, c, inner, out.data());
}

// dx = y * (dy - <dy, y>) per position, over the channels.
void softmax_backward(const OpPass& op, const std::vector<float>& dy, const GradOf& grad_of) {
  std::vector<float>& dx = zeroed(grad_of(op.l.inputs[0]));
  const std::vector<float>& y = op.w.act.at(op.l.output);
  const int64_t c = channels(op.os), inner = op.n * per_image(op.os) / c;
  for (int64_t p = 0; p < inner; ++p) {
    double dot = 0;
    for (int64_t k = 0; k < c; ++k) dot += double{dy[p + k * inner]} * y[p + k * inner];
    for (int64_t k = 0; k < c; ++k)
      dx[p + k * inner] += static_cast<float>(y[p + k * inner] * (dy[p + k * inner] - dot));
  }
}

}  // namespace sqz::train
