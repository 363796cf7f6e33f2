#include "sqz/kernels/softmax.h"

#include "ops.h"

namespace sqz::train {

void softmax_forward(const OpPass& op, const std::vector<float>& in, std::vector<float>& out) {
  const int64_t c = op.os[1], inner = per_image(op.os) / c;
  kernels::softmax_f32(in.data(), op.n, c, inner, out.data());  // the channel softmax
}

// dx = y * (dy - <dy, y>) per position, over the channels.
void softmax_backward(const OpPass& op, const std::vector<float>& dy, const GradOf& grad_of) {
  std::vector<float>& dx = zeroed(grad_of(op.l.inputs[0]));
  const std::vector<float>& y = op.w.act.at(op.l.output);
  const Shape& os = op.os;
  const int64_t c = os[1], inner = per_image(os) / c;
  for (int64_t b = 0; b < op.n; ++b)
    for (int64_t p = 0; p < inner; ++p) {
      const int64_t base = b * per_image(os) + p;
      double dot = 0;
      for (int64_t k = 0; k < c; ++k) dot += double{dy[base + k * inner]} * y[base + k * inner];
      for (int64_t k = 0; k < c; ++k)
        dx[base + k * inner] +=
            static_cast<float>(y[base + k * inner] * (dy[base + k * inner] - dot));
    }
}

}  // namespace sqz::train
