// A convolution's rows pooled band by band (conv_op.h: direct_conv_maxpool_rows for a direct
// op, im2col_conv_maxpool_rows for a GEMM or SpMM op over im2col).
#include <algorithm>
#include <cstring>

#include "sqz/kernels/conv_op.h"
#include "sqz/kernels/im2col.h"
#include "sqz/kernels/pool.h"

namespace sqz::kernels {

namespace {

// Convolution rows a band of `band_rows` pooled rows reads, at most.
int64_t band_conv_rows(const ConvOp& op, const PoolShape& ps, int64_t band_rows) {
  return std::min(op.shape().out_h, (band_rows - 1) * ps.sh + ps.kh);
}

}  // namespace

int64_t direct_conv_band_floats(const ConvOp& op, const PoolShape& ps, int64_t band_rows) {
  return op.direct_panel_channels() * band_conv_rows(op, ps, band_rows) * op.shape().out_w;
}

namespace {

// Pooled rows [r0, r1) of `channels` channels into dst (the pooling's output at the first of
// them), band by band: compute(from, to, rows) writes convolution rows [from, to) of those
// channels to `rows` (row stride out_w, channel stride `plane`); rows a band shares with the
// next are moved up, not recomputed.
template <typename ComputeRows>
void pool_in_bands(const ConvShape& s, const PoolShape& ps, int64_t channels, int64_t plane,
                   int64_t r0, int64_t r1, int64_t band_rows, float* band, float* dst,
                   ComputeRows compute) {
  const int64_t out_plane = ps.out_h * ps.out_w;
  int64_t have_lo = 0, have_hi = 0;  // convolution rows in the band: [have_lo, have_hi)
  for (int64_t a = r0; a < r1; a += band_rows) {
    const int64_t b = std::min(r1, a + band_rows);
    // Rows the windows of pooled rows [a, b) read, clipped to the convolution's output.
    const int64_t lo = std::clamp(a * ps.sh - ps.ph, int64_t{0}, s.out_h);
    const int64_t hi = std::clamp((b - 1) * ps.sh - ps.ph + ps.kh, lo, s.out_h);
    int64_t kept = 0;
    if (have_lo <= lo && lo < have_hi) {
      kept = std::min(have_hi, hi) - lo;
      for (int64_t c = 0; c < channels; ++c)
        std::memmove(band + c * plane, band + c * plane + (lo - have_lo) * s.out_w,
                     sizeof(float) * kept * s.out_w);
    }
    if (lo + kept < hi) compute(lo + kept, hi, band + kept * s.out_w);
    PoolShape bs = ps;
    bs.c = channels;
    bs.in_h = hi - lo;
    bs.out_h = b - a;
    bs.ph = lo - (a * ps.sh - ps.ph);  // the band's row 0 is row -bs.ph of pooled row a's window
    maxpool2d_f32(bs, band, plane, dst + a * ps.out_w, out_plane);
    have_lo = lo;
    have_hi = hi;
  }
}

}  // namespace

void direct_conv_maxpool_rows(const ConvOp& op, const float* arranged, const float* shared,
                              const PoolShape& ps, int64_t panel, int64_t r0, int64_t r1,
                              int64_t band_rows, float* band, float* out) {
  const ConvShape& s = op.shape();
  const int64_t pc = op.direct_panel_channels();
  const int64_t live = std::min(pc, s.out_c - panel * pc);
  const int64_t plane = band_conv_rows(op, ps, band_rows) * s.out_w;
  pool_in_bands(s, ps, live, plane, r0, r1, band_rows, band,
                out + panel * pc * ps.out_h * ps.out_w,
                [&](int64_t from, int64_t to, float* rows) {
                  op.run_direct_rows(arranged, panel, from, to, rows, plane, shared);
                });
}

int64_t im2col_conv_band_floats(const ConvOp& op, const PoolShape& ps, int64_t band_rows) {
  return op.shape().out_c * band_conv_rows(op, ps, band_rows) * op.shape().out_w;
}

int64_t im2col_conv_cols_floats(const ConvOp& op, const PoolShape& ps, int64_t band_rows) {
  return op.shape().k_per_group() *
         aligned_stride(band_conv_rows(op, ps, band_rows) * op.shape().out_w);
}

void im2col_conv_maxpool_rows(const ConvOp& op, const float* in, const float* shared,
                              const PoolShape& ps, int64_t r0, int64_t r1, int64_t band_rows,
                              float* cols, float* band, float* scratch, float* out) {
  const ConvShape& s = op.shape();
  const int64_t plane = band_conv_rows(op, ps, band_rows) * s.out_w, k = s.k_per_group();
  pool_in_bands(s, ps, s.out_c, plane, r0, r1, band_rows, band, out,
                [&](int64_t from, int64_t to, float* rows) {
                  const int64_t n = (to - from) * s.out_w, ld = aligned_stride(n);
                  im2col(s, in, cols, 0, k, from * s.out_w, n, ld);
                  op.run_items(cols, ld, n, rows, plane, 1, 0, op.work_items(n, 1), scratch,
                               shared);
                });
}

}  // namespace sqz::kernels
