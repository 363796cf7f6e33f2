// A direct convolution's rows pooled band by band (conv_op.h, direct_conv_maxpool_rows).
#include <algorithm>
#include <cstring>

#include "sqz/kernels/conv_op.h"
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

void direct_conv_maxpool_rows(const ConvOp& op, const float* arranged, const float* shared,
                              const PoolShape& ps, int64_t panel, int64_t r0, int64_t r1,
                              int64_t band_rows, float* band, float* out) {
  const ConvShape& s = op.shape();
  const int64_t pc = op.direct_panel_channels();
  const int64_t live = std::min(pc, s.out_c - panel * pc);
  const int64_t plane = band_conv_rows(op, ps, band_rows) * s.out_w;
  const int64_t out_plane = ps.out_h * ps.out_w;
  float* dst = out + panel * pc * out_plane;
  int64_t have_lo = 0, have_hi = 0;  // convolution rows in the band: [have_lo, have_hi)
  for (int64_t a = r0; a < r1; a += band_rows) {
    const int64_t b = std::min(r1, a + band_rows);
    // Rows the windows of pooled rows [a, b) read, clipped to the convolution's output.
    const int64_t lo = std::clamp(a * ps.sh - ps.ph, int64_t{0}, s.out_h);
    const int64_t hi = std::clamp((b - 1) * ps.sh - ps.ph + ps.kh, lo, s.out_h);
    int64_t kept = 0;
    if (have_lo <= lo && lo < have_hi) {
      kept = std::min(have_hi, hi) - lo;
      for (int64_t c = 0; c < live; ++c)
        std::memmove(band + c * plane, band + c * plane + (lo - have_lo) * s.out_w,
                     sizeof(float) * kept * s.out_w);
    }
    op.run_direct_rows(arranged, panel, lo + kept, hi, band + kept * s.out_w, plane, shared);
    PoolShape bs = ps;
    bs.c = live;
    bs.in_h = hi - lo;
    bs.out_h = b - a;
    bs.ph = lo - (a * ps.sh - ps.ph);  // the band's row 0 is row -bs.ph of pooled row a's window
    maxpool2d_f32(bs, band, plane, dst + a * ps.out_w, out_plane);
    have_lo = lo;
    have_hi = hi;
  }
}

}  // namespace sqz::kernels
