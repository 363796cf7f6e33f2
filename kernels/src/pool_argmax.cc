// Max pooling with the winner's index, for the training engine's backward pass (pool.h).
// Every path visits a window's values in row-major order and takes a value only when it is
// strictly larger (NaN never is), so each finds the first largest value, as the naive twin.
#include <algorithm>
#include <cmath>

#include "sqz/kernels/machine.h"
#include "sqz/kernels/pool.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

extern "C" void sqz_maxpool_argmax_3s2_row_avx512(const float* plane, int64_t w, int64_t y0,
                                                  int64_t y1, int64_t n, float* out,
                                                  int32_t* arg);

namespace sqz::kernels {
namespace {

inline void take_if_larger(float v, int32_t index, float* best, int32_t* at) {
  const bool better = v > *best;  // branch-free: the winner is unpredictable
  *best = better ? v : *best;
  *at = better ? index : *at;
}

// Rows [y0, y1), columns [x0, x1) of a plane of width w.
void window_any(const float* plane, int64_t w, int64_t y0, int64_t y1, int64_t x0, int64_t x1,
                float* best, int32_t* at) {
  for (int64_t y = y0; y < y1; ++y)
    for (int64_t x = x0; x < x1; ++x)
      take_if_larger(plane[y * w + x], static_cast<int32_t>(y * w + x), best, at);
}

// Three whole columns from x0, rows [y0, y1).
void window_3_wide(const float* plane, int64_t w, int64_t y0, int64_t y1, int64_t x0,
                   float* best, int32_t* at) {
  for (int64_t y = y0; y < y1; ++y)
    for (int64_t x = x0; x < x0 + 3; ++x)
      take_if_larger(plane[y * w + x], static_cast<int32_t>(y * w + x), best, at);
}

#if defined(__SSE2__)
// Four outputs ox..ox+3 of a 3-wide, stride-2 window row (columns 2ox .. 2ox+8, all inside the
// plane), rows [y0, y1): each lane visits its window in row-major order.
void four_windows_3s2(const float* plane, int64_t w, int64_t y0, int64_t y1, int64_t ox,
                      float* out, int32_t* arg) {
  __m128 b = _mm_set1_ps(-INFINITY);
  __m128i a = _mm_set1_epi32(-1);
  const __m128i even_lanes = _mm_setr_epi32(0, 2, 4, 6);
  for (int64_t y = y0; y < y1; ++y) {
    const float* row = plane + y * w + 2 * ox;
    const __m128 lo = _mm_loadu_ps(row), hi = _mm_loadu_ps(row + 4);
    const __m128 mid = _mm_loadu_ps(row + 2), end = _mm_loadu_ps(row + 5);
    const __m128 column[3] = {
        _mm_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0)),     // 2ox, +2, +4, +6
        _mm_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1)),     // 2ox+1, +3, +5, +7
        _mm_shuffle_ps(mid, end, _MM_SHUFFLE(3, 1, 2, 0))};  // 2ox+2, +4, +6, +8
    for (int dx = 0; dx < 3; ++dx) {
      const __m128 m = _mm_cmpgt_ps(column[dx], b);
      const __m128i mi = _mm_castps_si128(m);
      const __m128i index = _mm_add_epi32(
          _mm_set1_epi32(static_cast<int32_t>(y * w + 2 * ox + dx)), even_lanes);
      b = _mm_or_ps(_mm_and_ps(m, column[dx]), _mm_andnot_ps(m, b));
      a = _mm_or_si128(_mm_and_si128(mi, index), _mm_andnot_si128(mi, a));
    }
  }
  // No winner (-1): output 0.
  const __m128i none = _mm_cmpeq_epi32(a, _mm_set1_epi32(-1));
  _mm_storeu_ps(out, _mm_andnot_ps(_mm_castsi128_ps(none), b));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(arg), a);
}
#endif

// One row of outputs: oy's rows [y0, y1).
void output_row(const PoolShape& s, const float* plane, int64_t y0, int64_t y1, float* out,
                int32_t* arg, Isa isa) {
  int64_t ox = 0;
  const bool three_by_two = s.kw == 3 && s.sw == 2 && s.pw == 0;  // SqueezeNet's windows
  if (three_by_two && isa == Isa::kAvx512) {  // 16 at a time while wholly inside
    ox = s.in_w < 3 ? 0 : std::min(s.out_w, (s.in_w - 3) / 2 + 1);
    sqz_maxpool_argmax_3s2_row_avx512(plane, s.in_w, y0, y1, ox, out, arg);
  }
#if defined(__SSE2__)
  if (three_by_two)  // 4 at a time while wholly inside
    for (; ox + 4 <= s.out_w && 2 * (ox + 3) + 2 < s.in_w; ox += 4)
      four_windows_3s2(plane, s.in_w, y0, y1, ox, out + ox, arg + ox);
#endif
  for (; ox < s.out_w; ++ox) {
    const int64_t x0 = std::max<int64_t>(ox * s.sw - s.pw, 0);
    const int64_t x1 = std::min(ox * s.sw - s.pw + s.kw, s.in_w);
    float best = -INFINITY;
    int32_t at = -1;
    if (s.kw == 3 && x1 - x0 == 3)
      window_3_wide(plane, s.in_w, y0, y1, x0, &best, &at);
    else
      window_any(plane, s.in_w, y0, y1, x0, x1, &best, &at);
    out[ox] = at >= 0 ? best : 0.0f;
    arg[ox] = at;
  }
}

}  // namespace

void maxpool2d_argmax_f32(const PoolShape& s, const float* in, float* out, int32_t* arg,
                          Isa isa) {
  if (static_cast<int>(isa) > static_cast<int>(machine().isa)) isa = machine().isa;
  for (int64_t c = 0; c < s.c; ++c) {
    const float* plane = in + c * s.in_h * s.in_w;
    for (int64_t oy = 0; oy < s.out_h; ++oy, out += s.out_w, arg += s.out_w) {
      const int64_t y0 = std::max<int64_t>(oy * s.sh - s.ph, 0);
      const int64_t y1 = std::min(oy * s.sh - s.ph + s.kh, s.in_h);
      output_row(s, plane, y0, y1, out, arg, isa);
    }
  }
}

void maxpool2d_argmax_f32(const PoolShape& s, const float* in, float* out, int32_t* arg) {
  maxpool2d_argmax_f32(s, in, out, arg, machine().isa);
}

namespace ref {

void maxpool2d_argmax_f32(const PoolShape& s, const float* in, float* out, int32_t* arg) {
  for (int64_t c = 0; c < s.c; ++c)
    for (int64_t oy = 0; oy < s.out_h; ++oy)
      for (int64_t ox = 0; ox < s.out_w; ++ox, ++out, ++arg) {
        float m = -INFINITY;
        *arg = -1;
        for (int64_t i = 0; i < s.kh; ++i)
          for (int64_t j = 0; j < s.kw; ++j) {
            const int64_t y = oy * s.sh - s.ph + i, x = ox * s.sw - s.pw + j;
            if (y < 0 || y >= s.in_h || x < 0 || x >= s.in_w) continue;
            const float v = in[(c * s.in_h + y) * s.in_w + x];
            if (v > m) m = v, *arg = static_cast<int32_t>(y * s.in_w + x);
          }
        *out = *arg >= 0 ? m : 0.0f;
      }
}

}  // namespace ref
}  // namespace sqz::kernels
