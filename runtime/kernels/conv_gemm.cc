#include "conv_gemm.h"

#include <algorithm>
#include <cstring>

namespace sqz::rt {

ConvGemm::ConvGemm(const ConvShape& s, const float* weight, const float* bias, bool relu,
                   const GemmKernel& kernel)
    : s_(s), kernel_(&kernel), relu_(relu) {
  direct_ = s.kh == 1 && s.kw == 1 && s.sh == 1 && s.sw == 1 && s.ph == 0 && s.pw == 0;
  const int mr = kernel.mr;
  panels_ = (s.out_size() + kernel.nr - 1) / kernel.nr;
  const int64_t ocg = s.out_c / s.groups, k = s.k_per_group();
  const int64_t row_panels = (ocg + mr - 1) / mr;
  bias_.assign(static_cast<size_t>(s.groups * row_panels * mr), 0.0f);
  for (int64_t g = 0; g < s.groups; ++g) {
    std::vector<float> packed = pack_gemm_a(weight + g * ocg * k, ocg, k, mr);
    a_packed_.insert(a_packed_.end(), packed.begin(), packed.end());
    if (bias) std::copy(bias + g * ocg, bias + (g + 1) * ocg, bias_.begin() + g * row_panels * mr);
  }
}

void ConvGemm::im2col(const float* in, float* col, int64_t begin, int64_t end) const {
  const int64_t taps = s_.kh * s_.kw, n = s_.out_size();
  for (int64_t row = begin; row < end; ++row) {
    const int64_t c = row / taps, i = row % taps / s_.kw, j = row % s_.kw;
    const float* plane = in + c * s_.in_h * s_.in_w;
    float* dst = col + row * n;
    // Output columns whose input column ox*sw - pw + j lies inside [0, in_w).
    const int64_t x_lo = std::min(s_.out_w, std::max<int64_t>(0, (s_.pw - j + s_.sw - 1) / s_.sw));
    const int64_t x_hi =
        std::max(x_lo, std::min(s_.out_w, (s_.in_w + s_.pw - j + s_.sw - 1) / s_.sw));
    for (int64_t oy = 0; oy < s_.out_h; ++oy, dst += s_.out_w) {
      const int64_t iy = oy * s_.sh - s_.ph + i;
      if (iy < 0 || iy >= s_.in_h) {
        std::fill(dst, dst + s_.out_w, 0.0f);
        continue;
      }
      const float* src_row = plane + iy * s_.in_w;
      const int64_t x0 = x_lo * s_.sw - s_.pw + j;  // input column of output column x_lo
      std::fill(dst, dst + x_lo, 0.0f);
      if (s_.sw == 1) {
        std::memcpy(dst + x_lo, src_row + x0, sizeof(float) * (x_hi - x_lo));
      } else {
        for (int64_t ox = x_lo; ox < x_hi; ++ox) dst[ox] = src_row[x0 + (ox - x_lo) * s_.sw];
      }
      std::fill(dst + x_hi, dst + s_.out_w, 0.0f);
    }
  }
}

void ConvGemm::run_items(const float* b, float* out, int64_t begin, int64_t end,
                         float* scratch) const {
  const int mr = kernel_->mr, nr = kernel_->nr;
  const int64_t ocg = s_.out_c / s_.groups, k = s_.k_per_group(), n = s_.out_size();
  const int64_t row_panels = (ocg + mr - 1) / mr;
  for (int64_t item = begin; item < end; ++item) {
    const int64_t g = item / panels_, n0 = (item % panels_) * nr;
    const int cols = static_cast<int>(std::min<int64_t>(nr, n - n0));
    const float* panel = b + g * k * n + n0;
    int64_t ldb = n;
    if (cols < nr) {  // the last panel: copy, so that no read runs past the matrix
      for (int64_t r = 0; r < k; ++r) {
        std::memcpy(scratch + r * nr, panel + r * n, sizeof(float) * cols);
        std::fill(scratch + r * nr + cols, scratch + (r + 1) * nr, 0.0f);
      }
      panel = scratch;
      ldb = nr;
    }
    for (int64_t p = 0; p < row_panels; ++p) {
      const int64_t row0 = g * ocg + p * mr;
      const int rows = static_cast<int>(std::min<int64_t>(mr, ocg - p * mr));
      kernel_->tile(a_packed_.data() + (g * row_panels + p) * k * mr, panel, ldb, k,
                    bias_.data() + (g * row_panels + p) * mr, relu_, out + row0 * n + n0, n, rows,
                    cols);
    }
  }
}

}  // namespace sqz::rt
