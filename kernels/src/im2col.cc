#include "sqz/kernels/im2col.h"

#include <algorithm>
#include <cstring>

#include "sqz/kernels/cpu_clones.h"
#include "sqz/kernels/machine.h"

namespace sqz::kernels {
namespace {

// dst[i] = src[2 i]: a constant stride the compiler vectorizes (even lanes of pairs of
// vectors), for stride-2 convolutions such as SqueezeNet's conv1.
SQZ_CPU_CLONES void copy_stride2(const float* __restrict src, int64_t n, float* __restrict dst) {
  for (int64_t i = 0; i < n; ++i) dst[i] = src[2 * i];
}

}  // namespace

void copy_strided(const float* src, int64_t stride, int64_t n, float* dst) {
  if (n <= 0) return;
  if (stride == 1) return static_cast<void>(std::memcpy(dst, src, sizeof(float) * n));
  if (stride == 2) return copy_stride2(src, n, dst);  // SqueezeNet's stems
  for (int64_t x = 0; x < n; ++x) dst[x] = src[x * stride];
}

// Segments are short (an output row, tens of floats) and the fills often one float: inline
// loops (kept from becoming memcpy/memset calls) cost less than the calls.
SQZ_CPU_CLONES SQZ_INLINE_LOOPS void im2col_strided(const ConvShape& s, const float* in,
                                                    int64_t plane, float* col, int64_t begin,
                                                    int64_t end, int64_t col0, int64_t ncols,
                                                    int64_t ld) {
  if (ld == 0) ld = ncols;
  if (conv_reads_input_directly(s)) {  // 1x1, stride 1, no padding: row c is plane c
    for (int64_t row = begin; row < end; ++row)
      std::memcpy(col + row * ld, in + row * plane + col0, static_cast<size_t>(ncols) * 4);
    return;
  }
  const int64_t taps = s.kh * s.kw, col1 = col0 + ncols;
  for (int64_t row = begin; row < end; ++row) {
    const int64_t c = row / taps, i = row % taps / s.kw, j = row % s.kw;
    const float* src_plane = in + c * plane;
    float* out = col + row * ld;  // column x is at out[x - col0]
    // Output columns whose input column ox*sw - pw + j lies inside [0, in_w).
    const int64_t x_lo = std::min(s.out_w, std::max<int64_t>(0, (s.pw - j + s.sw - 1) / s.sw));
    const int64_t x_hi = std::max(x_lo, std::min(s.out_w, (s.in_w + s.pw - j + s.sw - 1) / s.sw));
    for (int64_t oy = col0 / s.out_w, row_start = oy * s.out_w; row_start < col1;
         ++oy, row_start += s.out_w) {
      const int64_t a = std::max(col0, row_start), b = std::min(col1, row_start + s.out_w);
      const int64_t iy = oy * s.sh - s.ph + i;
      if (iy < 0 || iy >= s.in_h) {
        for (int64_t x = a; x < b; ++x) out[x - col0] = 0.0f;
        continue;
      }
      const float* src_row = src_plane + iy * s.in_w;
      // Within this output row: columns a..b are ox = a-row_start .. b-row_start.
      const int64_t lo = std::clamp(x_lo, a - row_start, b - row_start),
                    hi = std::clamp(x_hi, lo, b - row_start);
      for (int64_t x = a; x < row_start + lo; ++x) out[x - col0] = 0.0f;
      float* __restrict dst = out + (row_start + lo - col0);
      const float* __restrict src = src_row + lo * s.sw - s.pw + j;
      const int64_t n = hi - lo;
      if (s.sw == 1) {  // inline: a segment is often a few floats, and a call costs more
        for (int64_t x = 0; x < n; ++x) dst[x] = src[x];
      } else {
        copy_strided(src, s.sw, n, dst);
      }
      for (int64_t x = row_start + hi; x < b; ++x) out[x - col0] = 0.0f;
    }
  }
}

SameBatchRow same_batch_row(const ConvShape& s, int64_t row, int64_t n) {
  const int64_t taps = s.kh * s.kw, total = n * s.in_h * s.in_w;
  const int64_t dy = row % taps / s.kw - s.ph, dx = row % s.kw - s.pw;
  const int64_t shift = dy * s.in_w + dx;
  const int64_t lo = std::clamp<int64_t>(-shift, 0, total);
  return {row / taps, shift, lo, std::clamp<int64_t>(total - shift, lo, total)};
}

namespace {

// Columns [col0, col1) of a size-keeping im2col row (p = image * h * w + y * w + x), with the
// first image and image row they touch (divided once per call, not per row).
struct ColumnRange {
  int64_t col0, col1, first_image, first_line;
  int64_t whole_begin, whole_end;  // the image lines wholly inside: [whole_begin, whole_end)
  ColumnRange(int64_t h, int64_t w, int64_t c0, int64_t c1)
      : col0(c0),
        col1(c1),
        first_image(c0 / (h * w) * (h * w)),
        first_line(c0 / w * w),
        whole_begin((c0 + w - 1) / w * w),
        whole_end(c1 / w * w) {}
};

// Zeroes, in a row whose taps are offset (dy, dx) (column p at out[p - col0]), the columns
// whose window reads the padding, the image rows above or below (|dy| of each image) and the
// columns left or right (|dx| of each row), which a shifted copy fills from a neighbouring row
// or image. Inlined into callers whose fills stay loops (a row or a float per image row).
inline __attribute__((always_inline)) void zero_padding_in_range(int64_t h, int64_t w,
                                                                 int64_t dy, int64_t dx,
                                                                 const ColumnRange& r,
                                                                 float* out) {
  if (dy != 0) {
    const int64_t y0 = dy < 0 ? 0 : std::max<int64_t>(0, h - dy);
    const int64_t y1 = dy < 0 ? std::min(h, -dy) : h;
    for (int64_t image = r.first_image; image < r.col1; image += h * w) {
      const int64_t a = std::max(r.col0, image + y0 * w), b = std::min(r.col1, image + y1 * w);
      for (int64_t p = a; p < b; ++p) out[p - r.col0] = 0.0f;
    }
  }
  if (dx != 0) {
    const int64_t x0 = dx < 0 ? 0 : std::max<int64_t>(0, w - dx);
    const int64_t x1 = dx < 0 ? std::min(w, -dx) : w;
    auto part_of_line = [&](int64_t line) {
      const int64_t a = std::max(r.col0, line + x0), b = std::min(r.col1, line + x1);
      for (int64_t p = a; p < b; ++p) out[p - r.col0] = 0.0f;
    };
    // The lines wholly inside the range without bounds (a batch's hundreds of lines a row),
    // the partial first and last apart.
    const int64_t whole_begin = r.whole_begin, whole_end = r.whole_end;
    if (r.first_line < r.col0) part_of_line(r.first_line);
    for (float* line = out + (whole_begin - r.col0); line < out + (whole_end - r.col0); line += w)
      for (int64_t x = x0; x < x1; ++x) line[x] = 0.0f;
    if (whole_end < r.col1 && whole_end >= whole_begin) part_of_line(whole_end);
  }
}

}  // namespace

SQZ_CPU_CLONES SQZ_INLINE_LOOPS void zero_padding_columns(const ConvShape& s, int64_t row,
                                                          int64_t n, float* out) {
  const int64_t taps = s.kh * s.kw;
  zero_padding_in_range(s.in_h, s.in_w, row % taps / s.kw - s.ph, row % s.kw - s.pw,
                        ColumnRange(s.in_h, s.in_w, 0, n * s.in_h * s.in_w), out);
}

// Row (c, i, j) is one copy of channel c's block shifted by (i - ph) * w + (j - pw), then the
// padding zeroed. The rows are walked (c, i, j), without the six divisions a row that finding
// (c, i, j) and the padding's rows and columns took before (on 13x13 planes, a row's copy is
// 169 floats).
SQZ_CPU_CLONES SQZ_INLINE_LOOPS void im2col_same_batch(const ConvShape& s, const float* in,
                                                       int64_t n, float* col, int64_t begin,
                                                       int64_t end, int64_t col0, int64_t ncols,
                                                       int64_t ld) {
  const int64_t taps = s.kh * s.kw, total = n * s.in_h * s.in_w, col1 = col0 + ncols;
  const ColumnRange range(s.in_h, s.in_w, col0, col1);
  int64_t c = begin / taps, i = begin % taps / s.kw, j = begin % s.kw;
  for (int64_t row = begin; row < end; ++row) {
    const int64_t dy = i - s.ph, dx = j - s.pw, shift = dy * s.in_w + dx;
    const float* block = in + c * total;
    float* out = col + row * ld;  // column p at out[p - col0]
    const int64_t lo = std::clamp(-shift, col0, col1), hi = std::clamp(total - shift, lo, col1);
    for (int64_t p = col0; p < lo; ++p) out[p - col0] = 0.0f;
    std::memcpy(out + (lo - col0), block + lo + shift, static_cast<size_t>(hi - lo) * 4);
    for (int64_t p = hi; p < col1; ++p) out[p - col0] = 0.0f;
    zero_padding_in_range(s.in_h, s.in_w, dy, dx, range, out);
    if (++j == s.kw) {
      j = 0;
      if (++i == s.kh) i = 0, ++c;
    }
  }
}

void im2col_same_batch(const ConvShape& s, const float* in, int64_t n, float* col, int64_t begin,
                       int64_t end, int64_t ld) {
  im2col_same_batch(s, in, n, col, begin, end, 0, n * s.in_h * s.in_w, ld);
}

void im2col(const ConvShape& s, const float* in, float* col, int64_t begin, int64_t end,
            int64_t col0, int64_t ncols, int64_t ld) {
  if (conv_keeps_size(s) && !conv_reads_input_directly(s))
    return im2col_same_batch(s, in, 1, col, begin, end, col0, ncols, ld == 0 ? ncols : ld);
  im2col_strided(s, in, s.in_h * s.in_w, col, begin, end, col0, ncols, ld);
}

int64_t im2col_block_columns(const ConvShape& s, int64_t floats) {
  if (floats <= 0) floats = l2_per_thread(machine()) / 4 / static_cast<int64_t>(sizeof(float));
  const int64_t rows = s.groups * s.k_per_group();
  const int64_t cols = std::max<int64_t>(64, floats / std::max<int64_t>(rows, 1) / 64 * 64);
  return std::min(cols, s.out_size());
}

// Lanes are computed branch-free over arrays, so that GCC vectorizes the taps' loop.
SQZ_CPU_CLONES void same_panel_masks(const ConvShape& s, int64_t col0, int64_t cols, int64_t width,
                                     uint32_t* masks) {
  int32_t ys[kMaxPanelWidth], xs[kMaxPanelWidth];
  for (int64_t lane = 0, y = col0 / s.in_w, x = col0 % s.in_w; lane < width; ++lane) {
    // A lane past the panel sits below the plane, where no tap reaches.
    ys[lane] = static_cast<int32_t>(lane < cols ? y : s.in_h + s.kh);
    xs[lane] = static_cast<int32_t>(x);
    if (++x == s.in_w) x = 0, ++y;
  }
  const auto h = static_cast<int32_t>(s.in_h), w = static_cast<int32_t>(s.in_w);
  for (int64_t t = 0; t < s.kh * s.kw; ++t) {
    const auto dy = static_cast<int32_t>(t / s.kw - s.ph);
    const auto dx = static_cast<int32_t>(t % s.kw - s.pw);
    uint32_t* __restrict m = masks + t * width;
    for (int64_t lane = 0; lane < width; ++lane) {
      const bool inside =
          (ys[lane] + dy >= 0) & (ys[lane] + dy < h) & (xs[lane] + dx >= 0) & (xs[lane] + dx < w);
      m[lane] = 0u - static_cast<uint32_t>(inside);
    }
  }
}

// Floats handled as their bits (the AND keeps or clears each lane exactly: +0 where cleared,
// as im2col's zeros).
typedef uint32_t FloatBits __attribute__((may_alias));

inline __attribute__((always_inline)) void and_row(const FloatBits* __restrict src,
                                                   const uint32_t* __restrict mask, int64_t width,
                                                   FloatBits* __restrict out) {
  for (int64_t lane = 0; lane < width; lane += 16)
#pragma GCC unroll 16
    for (int64_t k = 0; k < 16; ++k) out[lane + k] = src[lane + k] & mask[lane + k];
}

// Rows walked (c, i, j) without divisions, as im2col_same_batch.
SQZ_CPU_CLONES void im2col_same_panel(const ConvShape& s, const float* in, int64_t col0,
                                      int64_t width, const uint32_t* masks, int64_t begin,
                                      int64_t end, float* dst, int64_t ld) {
  const int64_t taps = s.kh * s.kw, plane = s.in_h * s.in_w, readable = s.in_c * plane;
  int64_t c = begin / taps, i = begin % taps / s.kw, j = begin % s.kw;
  for (int64_t row = begin; row < end; ++row) {
    const int64_t at = c * plane + col0 + (i - s.ph) * s.in_w + (j - s.pw);
    const uint32_t* m = masks + (i * s.kw + j) * width;
    auto* out = reinterpret_cast<FloatBits*>(dst + (row - begin) * ld);
    if (at >= 0 && at + width <= readable) {
      and_row(reinterpret_cast<const FloatBits*>(in + at), m, width, out);
    } else {  // the first or last plane's edge: read only the lanes inside the plane
      const auto* src = reinterpret_cast<const FloatBits*>(in);
      for (int64_t lane = 0; lane < width; ++lane) out[lane] = m[lane] ? src[at + lane] : 0u;
    }
    if (++j == s.kw) {
      j = 0;
      if (++i == s.kh) i = 0, ++c;
    }
  }
}

SQZ_CPU_CLONES SQZ_INLINE_LOOPS void im2col_padded(const ConvShape& s, const float* padded,
                                                   float* col, int64_t begin, int64_t end,
                                                   int64_t col0, int64_t ncols, int64_t ld) {
  const int64_t taps = s.kh * s.kw, pw = s.in_w + 2 * s.pw, plane = padded_plane(s);
  const int64_t oy0 = col0 / s.out_w, ox0 = col0 % s.out_w;
  for (int64_t row = begin; row < end; ++row) {
    const int64_t c = row / taps, i = row % taps / s.kw, j = row % s.kw;
    const float* src_plane = padded + c * plane + i * pw + j;
    float* __restrict out = col + row * ld;
    for (int64_t x = 0, oy = oy0, ox = ox0; x < ncols; ++oy, ox = 0) {
      const int64_t n = std::min(s.out_w - ox, ncols - x);
      const float* __restrict src = src_plane + oy * s.sh * pw + ox * s.sw;
      float* __restrict dst = out + x;
      if (s.sw == 1) {
        for (int64_t k = 0; k < n; ++k) dst[k] = src[k];
      } else if (s.sw == 2) {
        for (int64_t k = 0; k < n; ++k) dst[k] = src[2 * k];
      } else {
        for (int64_t k = 0; k < n; ++k) dst[k] = src[k * s.sw];
      }
      x += n;
    }
  }
}

SQZ_CPU_CLONES SQZ_INLINE_LOOPS void pad_planes(const ConvShape& s, const float* in, float* padded,
                                                int64_t c0, int64_t c1) {
  const int64_t pw = s.in_w + 2 * s.pw, ph = s.in_h + 2 * s.ph;
  for (int64_t c = c0; c < c1; ++c) {
    const float* src = in + c * s.in_h * s.in_w;
    float* dst = padded + c * padded_plane(s);
    for (int64_t k = 0; k < s.ph * pw; ++k) dst[k] = 0.0f;
    for (int64_t y = 0; y < s.in_h; ++y) {
      float* row = dst + (y + s.ph) * pw;
      for (int64_t k = 0; k < s.pw; ++k) row[k] = 0.0f;
      for (int64_t k = 0; k < s.in_w; ++k) row[s.pw + k] = src[y * s.in_w + k];
      for (int64_t k = s.pw + s.in_w; k < pw; ++k) row[k] = 0.0f;
    }
    for (int64_t k = (s.ph + s.in_h) * pw; k < ph * pw; ++k) dst[k] = 0.0f;
  }
}

}  // namespace sqz::kernels
