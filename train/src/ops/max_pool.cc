#include <algorithm>
#include <cmath>

#include "ops.h"

namespace sqz::train {
namespace {

// The first largest value of a window, in row-major order, and its index in the plane
// (-1 when the window is empty). Branch-free: the winner is unpredictable.
inline void take_if_larger(float v, int32_t index, float* best, int32_t* at) {
  const bool better = v > *best;
  *best = better ? v : *best;
  *at = better ? index : *at;
}

void window_max_any(const float* plane, int64_t iw, int64_t y0, int64_t y1, int64_t x0, int64_t x1,
                    float* best, int32_t* at) {
  for (int64_t y = y0; y < y1; ++y)
    for (int64_t x = x0; x < x1; ++x)
      take_if_larger(plane[y * iw + x], static_cast<int32_t>(y * iw + x), best, at);
}

// The same for a KH x KW window wholly inside the plane (the loops unrolled).
template <int KH, int KW>
void window_max(const float* plane, int64_t iw, int64_t y0, int64_t x0, float* best, int32_t* at) {
  for (int dy = 0; dy < KH; ++dy)
    for (int dx = 0; dx < KW; ++dx) {
      const int64_t i = (y0 + dy) * iw + x0 + dx;
      take_if_larger(plane[i], static_cast<int32_t>(i), best, at);
    }
}

}  // namespace

// Records each output's winning input (-1: a window wholly in the padding, output 0).
void max_pool_forward(const OpPass& op, const std::vector<float>& in, std::vector<float>& out) {
  const Shape &is = op.is, &os = op.os;
  std::vector<int32_t>& arg = op.w.argmax[op.li];
  arg.resize(out.size());
  const int64_t ih = is[2], iw = is[3], oh = os[2], ow = os[3];
  const PoolParams& p = op.l.pool;
  const int64_t kh = p.global ? ih : p.kernel_h, kw = p.global ? iw : p.kernel_w,
                sh = p.global ? 1 : p.stride_h, sw = p.global ? 1 : p.stride_w,
                ph = p.global ? 0 : p.pad_h, pw = p.global ? 0 : p.pad_w;
  for (int64_t bc = 0; bc < op.n * is[1]; ++bc) {
    const float* plane = in.data() + bc * ih * iw;
    float* o = out.data() + bc * oh * ow;
    int32_t* a = arg.data() + bc * oh * ow;
    for (int64_t oy = 0; oy < oh; ++oy) {
      const int64_t y0 = std::max<int64_t>(oy * sh - ph, 0), y1 = std::min(oy * sh - ph + kh, ih);
      for (int64_t ox = 0; ox < ow; ++ox) {
        const int64_t x0 = std::max<int64_t>(ox * sw - pw, 0), x1 = std::min(ox * sw - pw + kw, iw);
        float best = -INFINITY;
        int32_t at = -1;
        if (kh == 3 && kw == 3 && y1 - y0 == 3 && x1 - x0 == 3)  // SqueezeNet's, unclipped
          window_max<3, 3>(plane, iw, y0, x0, &best, &at);
        else
          window_max_any(plane, iw, y0, y1, x0, x1, &best, &at);
        o[oy * ow + ox] = at >= 0 ? best : 0.0f;
        a[oy * ow + ox] = at;
      }
    }
  }
}

void max_pool_backward(const OpPass& op, const std::vector<float>& dy, const GradOf& grad_of) {
  std::vector<float>& dx = grad_of(op.l.inputs[0]);
  const std::vector<int32_t>& arg = op.w.argmax.at(op.li);
  const int64_t plane_in = op.is[2] * op.is[3], plane_out = op.os[2] * op.os[3];
  for (size_t k = 0; k < arg.size(); ++k)
    if (arg[k] >= 0)
      dx[static_cast<size_t>(static_cast<int64_t>(k) / plane_out * plane_in + arg[k])] += dy[k];
}

}  // namespace sqz::train
