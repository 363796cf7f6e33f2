#include "sqz/kernels/sgemm.h"

#include <algorithm>
#include <cstring>

namespace sqz::kernels {

void sgemm(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, bool transpose_a,
           const float* b, int64_t ldb, float* c, int64_t ldc, std::vector<float>* scratch,
           const GemmKernel& kernel) {
  const int mr = kernel.mr, nr = kernel.nr;
  const int64_t row_panels = (m + mr - 1) / mr;
  const size_t packed = static_cast<size_t>(row_panels * k * mr);
  scratch->resize(packed + static_cast<size_t>(k * nr) + static_cast<size_t>(mr));
  float* ap = scratch->data();
  float* bp = ap + packed;
  float* zero_bias = bp + k * nr;
  std::fill(zero_bias, zero_bias + mr, 0.0f);
  for (int64_t p = 0; p < row_panels; ++p)
    for (int64_t i = 0; i < k; ++i)
      for (int r = 0; r < mr; ++r) {
        const int64_t row = p * mr + r;
        ap[(p * k + i) * mr + r] =
            row >= m ? 0.0f : (transpose_a ? a[i * lda + row] : a[row * lda + i]);
      }
  for (int64_t n0 = 0; n0 < n; n0 += nr) {
    const int cols = static_cast<int>(std::min<int64_t>(nr, n - n0));
    const float* panel = b + n0;
    int64_t ld = ldb;
    if (cols < nr) {
      for (int64_t r = 0; r < k; ++r) {
        std::memcpy(bp + r * nr, b + r * ldb + n0, sizeof(float) * cols);
        std::fill(bp + r * nr + cols, bp + (r + 1) * nr, 0.0f);
      }
      panel = bp;
      ld = nr;
    }
    for (int64_t p = 0; p < row_panels; ++p)
      kernel.tile(ap + p * k * mr, panel, ld, k, zero_bias, false, c + p * mr * ldc + n0, ldc,
                  static_cast<int>(std::min<int64_t>(mr, m - p * mr)), cols);
  }
}

}  // namespace sqz::kernels
