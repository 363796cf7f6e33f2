#include "im2col.h"

#include <algorithm>
#include <cstring>

namespace sqz::rt {
namespace {

// dst[i] = src[2 i]: a constant stride the compiler vectorizes (even lanes of pairs of
// vectors), for stride-2 convolutions such as SqueezeNet's conv1.
void copy_stride2(const float* src, int64_t n, float* dst) {
  for (int64_t i = 0; i < n; ++i) dst[i] = src[2 * i];
}

}  // namespace

void im2col(const ConvShape& s, const float* in, float* col, int64_t begin, int64_t end,
            int64_t col0, int64_t ncols) {
  const int64_t taps = s.kh * s.kw, col1 = col0 + ncols;
  for (int64_t row = begin; row < end; ++row) {
    const int64_t c = row / taps, i = row % taps / s.kw, j = row % s.kw;
    const float* plane = in + c * s.in_h * s.in_w;
    float* base = col + row * ncols;  // column x is at base[x - col0]
    // Output columns whose input column ox*sw - pw + j lies inside [0, in_w).
    const int64_t x_lo = std::min(s.out_w, std::max<int64_t>(0, (s.pw - j + s.sw - 1) / s.sw));
    const int64_t x_hi = std::max(x_lo, std::min(s.out_w, (s.in_w + s.pw - j + s.sw - 1) / s.sw));
    for (int64_t oy = col0 / s.out_w; oy * s.out_w < col1; ++oy) {
      const int64_t row_start = oy * s.out_w;
      const int64_t a = std::max(col0, row_start), b = std::min(col1, row_start + s.out_w);
      const int64_t iy = oy * s.sh - s.ph + i;
      if (iy < 0 || iy >= s.in_h) {
        std::fill(base + (a - col0), base + (b - col0), 0.0f);
        continue;
      }
      const float* src_row = plane + iy * s.in_w;
      // Within this output row: columns a..b are ox = a-row_start .. b-row_start.
      const int64_t ox_a = a - row_start, ox_b = b - row_start;
      const int64_t lo = std::clamp(x_lo, ox_a, ox_b), hi = std::clamp(x_hi, lo, ox_b);
      std::fill(base + (a - col0), base + (row_start + lo - col0), 0.0f);
      if (lo < hi) {
        const int64_t x0 = lo * s.sw - s.pw + j;  // input column of output column lo
        float* dst = base + (row_start + lo - col0);
        if (s.sw == 1) {
          std::memcpy(dst, src_row + x0, sizeof(float) * (hi - lo));
        } else if (s.sw == 2) {
          copy_stride2(src_row + x0, hi - lo, dst);
        } else {
          for (int64_t ox = lo; ox < hi; ++ox) dst[ox - lo] = src_row[x0 + (ox - lo) * s.sw];
        }
      }
      std::fill(base + (row_start + hi - col0), base + (b - col0), 0.0f);
    }
  }
}

}  // namespace sqz::rt
