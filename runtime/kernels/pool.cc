#include "pool.h"

#include <algorithm>
#include <limits>
#include <vector>

namespace sqz::rt {

// Separable: the max over the window's rows first (a vectorizable pass over whole input
// rows), then over its columns. An empty window (possible when stride > kernel) gives -inf.
void maxpool2d_f32(const PoolShape& s, const float* in, float* out) {
  std::vector<float> rowmax(static_cast<size_t>(s.in_w));
  for (int64_t c = 0; c < s.c; ++c) {
    const float* plane = in + c * s.in_h * s.in_w;
    for (int64_t oy = 0; oy < s.out_h; ++oy) {
      const int64_t y0 = std::max<int64_t>(oy * s.sh - s.ph, 0);
      const int64_t y1 = std::min(oy * s.sh - s.ph + s.kh, s.in_h);
      if (y0 >= y1) {  // a ceil-mode window wholly outside the image (stride > kernel)
        out = std::fill_n(out, s.out_w, -std::numeric_limits<float>::infinity());
        continue;
      }
      std::copy(plane + y0 * s.in_w, plane + (y0 + 1) * s.in_w, rowmax.begin());
      for (int64_t y = y0 + 1; y < y1; ++y) {
        const float* row = plane + y * s.in_w;
        for (int64_t x = 0; x < s.in_w; ++x) rowmax[x] = std::max(rowmax[x], row[x]);
      }
      for (int64_t ox = 0; ox < s.out_w; ++ox) {
        const int64_t x0 = std::max<int64_t>(ox * s.sw - s.pw, 0);
        const int64_t x1 = std::min(ox * s.sw - s.pw + s.kw, s.in_w);
        float m = -std::numeric_limits<float>::infinity();
        for (int64_t x = x0; x < x1; ++x) m = std::max(m, rowmax[x]);
        *out++ = m;
      }
    }
  }
}

void avgpool2d_f32(const PoolShape& s, const float* in, float* out) {
  for (int64_t c = 0; c < s.c; ++c) {
    const float* plane = in + c * s.in_h * s.in_w;
    for (int64_t oy = 0; oy < s.out_h; ++oy) {
      const int64_t ys = oy * s.sh - s.ph, ye = std::min(ys + s.kh, s.in_h + s.ph);
      const int64_t y0 = std::max<int64_t>(ys, 0), y1 = std::min(ye, s.in_h);
      for (int64_t ox = 0; ox < s.out_w; ++ox) {
        const int64_t xs = ox * s.sw - s.pw, xe = std::min(xs + s.kw, s.in_w + s.pw);
        const int64_t x0 = std::max<int64_t>(xs, 0), x1 = std::min(xe, s.in_w);
        double sum = 0;
        for (int64_t y = y0; y < y1; ++y)
          for (int64_t x = x0; x < x1; ++x) sum += plane[y * s.in_w + x];
        const int64_t count =
            s.average_counts_padding ? (ye - ys) * (xe - xs) : (y1 - y0) * (x1 - x0);
        *out++ = static_cast<float>(sum / static_cast<double>(std::max<int64_t>(count, 1)));
      }
    }
  }
}

void global_avgpool_f32(int64_t c, int64_t hw, const float* in, float* out) {
  for (int64_t i = 0; i < c; ++i) {
    double sum = 0;
    for (int64_t j = 0; j < hw; ++j) sum += in[i * hw + j];
    out[i] = static_cast<float>(sum / static_cast<double>(hw));
  }
}

void global_maxpool_f32(int64_t c, int64_t hw, const float* in, float* out) {
  for (int64_t i = 0; i < c; ++i) out[i] = *std::max_element(in + i * hw, in + (i + 1) * hw);
}

namespace ref {

void maxpool2d_f32(const PoolShape& s, const float* in, float* out) {
  for (int64_t c = 0; c < s.c; ++c)
    for (int64_t oy = 0; oy < s.out_h; ++oy)
      for (int64_t ox = 0; ox < s.out_w; ++ox) {
        float m = -std::numeric_limits<float>::infinity();
        for (int64_t i = 0; i < s.kh; ++i)
          for (int64_t j = 0; j < s.kw; ++j) {
            const int64_t y = oy * s.sh - s.ph + i, x = ox * s.sw - s.pw + j;
            if (y >= 0 && y < s.in_h && x >= 0 && x < s.in_w)
              m = std::max(m, in[(c * s.in_h + y) * s.in_w + x]);
          }
        *out++ = m;
      }
}

}  // namespace ref
}  // namespace sqz::rt
