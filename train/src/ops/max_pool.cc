#include <algorithm>
#include <cmath>

#include "ops.h"
#include "sqz/kernels/cpu_clones.h"

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

// One output row's 3x3 windows that lie wholly inside the plane, columns [lo, hi) at stride SW,
// top row y0: the same first largest value and index as window_max<3, 3> per column, taken
// tap by tap across the row (a loop the compiler vectorizes, the strided loads included).
template <int SW>
SQZ_CPU_CLONES void row_max_3x3(const float* plane, int64_t iw, int64_t y0, int64_t pw, int64_t lo,
                                int64_t hi, float* __restrict o, int32_t* __restrict a) {
  for (int64_t ox = lo; ox < hi; ++ox) o[ox] = -INFINITY, a[ox] = -1;
  for (int64_t dy = 0; dy < 3; ++dy)
    for (int64_t dx = 0; dx < 3; ++dx) {
      const int64_t base = (y0 + dy) * iw + dx - pw;
      const float* __restrict src = plane + base;
      for (int64_t ox = lo; ox < hi; ++ox) {
        const float v = src[ox * SW];
        const bool better = v > o[ox];
        o[ox] = better ? v : o[ox];
        a[ox] = better ? static_cast<int32_t>(base + ox * SW) : a[ox];
      }
    }
  // A window of NaNs only (never larger): as window_max's, output 0 with no winner.
  for (int64_t ox = lo; ox < hi; ++ox) o[ox] = a[ox] >= 0 ? o[ox] : 0.0f;
}

// Columns whose 3x3 window at stride sw lies inside [0, iw): [*lo, *hi).
void inside_columns(int64_t iw, int64_t ow, int64_t sw, int64_t pw, int64_t* lo, int64_t* hi) {
  *lo = std::min(ow, (pw + sw - 1) / sw);
  *hi = iw + pw >= 3 ? std::clamp((iw + pw - 3) / sw + 1, *lo, ow) : *lo;
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
    int64_t lo = 0, hi = 0;  // columns row_max_3x3 takes in rows whose windows are inside
    if (kh == 3 && kw == 3 && (sw == 1 || sw == 2)) inside_columns(iw, ow, sw, pw, &lo, &hi);
    for (int64_t oy = 0; oy < oh; ++oy) {
      const int64_t y0 = std::max<int64_t>(oy * sh - ph, 0), y1 = std::min(oy * sh - ph + kh, ih);
      const bool fast = hi > lo && y0 == oy * sh - ph && y1 - y0 == 3;
      if (fast) {
        auto row_max = sw == 1 ? row_max_3x3<1> : row_max_3x3<2>;
        row_max(plane, iw, y0, pw, lo, hi, o + oy * ow, a + oy * ow);
      }
      for (int64_t ox = 0; ox < ow; ++ox) {
        if (fast && ox == lo) ox = hi;
        if (ox >= ow) break;
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
