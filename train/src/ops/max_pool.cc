#include <algorithm>

#include "ops.h"
#include "sqz/kernels/pool.h"

namespace sqz::train {

// Records each output's winning input (-1: a window wholly in the padding, output 0).
void max_pool_forward(const OpPass& op, const std::vector<float>& in, std::vector<float>& out) {
  const Shape &is = op.is, &os = op.os;
  std::vector<int32_t>& arg = op.w.argmax[op.li];
  arg.resize(out.size());
  const PoolParams& p = op.l.pool;
  kernels::PoolShape s{};
  s.c = op.n * is[1];
  s.in_h = is[2], s.in_w = is[3], s.out_h = os[2], s.out_w = os[3];
  s.kh = p.global ? is[2] : p.kernel_h, s.kw = p.global ? is[3] : p.kernel_w;
  s.sh = p.global ? 1 : p.stride_h, s.sw = p.global ? 1 : p.stride_w;
  s.ph = p.global ? 0 : p.pad_h, s.pw = p.global ? 0 : p.pad_w;
  kernels::maxpool2d_argmax_f32(s, in.data(), out.data(), arg.data());
}

void max_pool_backward(const OpPass& op, const std::vector<float>& dy, const GradOf& grad_of) {
  std::vector<float>& dx = zeroed(grad_of(op.l.inputs[0]));
  const std::vector<int32_t>& arg = op.w.argmax.at(op.li);
  const int64_t plane_in = op.is[2] * op.is[3], plane_out = op.os[2] * op.os[3];
  // Plane by plane (outputs in the same order as one pass over all of them, so the same
  // sums), without a division per output to find its plane.
  const int64_t planes = static_cast<int64_t>(arg.size()) / std::max<int64_t>(plane_out, 1);
  for (int64_t c = 0; c < planes; ++c) {
    float* plane = dx.data() + c * plane_in;
    const int32_t* winner = arg.data() + c * plane_out;
    const float* g = dy.data() + c * plane_out;
    for (int64_t k = 0; k < plane_out; ++k)
      if (winner[k] >= 0) plane[winner[k]] += g[k];
  }
}

}  // namespace sqz::train
