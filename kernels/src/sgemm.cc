#include "sqz/kernels/sgemm.h"

#include <algorithm>
#include <cstring>

#if defined(__SSE2__)
#include <xmmintrin.h>
#endif

namespace sqz::kernels {
namespace {

// The packing functions stay out of line: inlined into sgemm's loops, GCC 12 made the whole
// worse (`perf` of bench_train on a Zen 3: sgemm with its packs 10.8% of the time inlined,
// 8.8% out of line).

// Columns k0 .. k0+kc of A's m rows, in MR-row panels: [panel][kc][MR], rows past m zero.
__attribute__((noinline)) void pack_a_block(const GemmOperand& a, int64_t m, int64_t k0, int64_t kc,
                                            int mr, float* dst) {
  const int64_t panels = (m + mr - 1) / mr;
  for (int64_t p = 0; p < panels; ++p) {
    float* panel = dst + p * kc * mr;
    const int rows = static_cast<int>(std::min<int64_t>(mr, m - p * mr));
    if (a.transposed) {  // the panel's rows lie side by side in each stored row: read along it
      for (int64_t i = 0; i < kc; ++i) {
        const float* src = a.data + (k0 + i) * a.ld + p * mr;
        for (int r = 0; r < mr; ++r) panel[i * mr + r] = r < rows ? src[r] : 0.0f;
      }
      continue;
    }
    for (int r = 0; r < mr; ++r) {
      if (r >= rows) {
        for (int64_t i = 0; i < kc; ++i) panel[i * mr + r] = 0.0f;
        continue;
      }
      const float* src = a.data + (p * mr + r) * a.ld + k0;
      for (int64_t i = 0; i < kc; ++i) panel[i * mr + r] = src[i];
    }
  }
}

// dst[i * ldd + j] = src[j * lds + i] for j < rows, i < n: 4x4 register transposes (SSE,
// baseline x86-64), scalar at the edges.
void transpose_rows(const float* src, int64_t lds, int rows, int64_t n, float* dst, int64_t ldd) {
  int j = 0;
#if defined(__SSE2__)
  for (; j + 4 <= rows; j += 4) {
    const float* r0 = src + j * lds;
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
      __m128 a = _mm_loadu_ps(r0 + i), b = _mm_loadu_ps(r0 + lds + i),
             c = _mm_loadu_ps(r0 + 2 * lds + i), d = _mm_loadu_ps(r0 + 3 * lds + i);
      _MM_TRANSPOSE4_PS(a, b, c, d);
      _mm_storeu_ps(dst + i * ldd + j, a);
      _mm_storeu_ps(dst + (i + 1) * ldd + j, b);
      _mm_storeu_ps(dst + (i + 2) * ldd + j, c);
      _mm_storeu_ps(dst + (i + 3) * ldd + j, d);
    }
    for (; i < n; ++i)
      for (int q = 0; q < 4; ++q) dst[i * ldd + j + q] = r0[q * lds + i];
  }
#endif
  for (; j < rows; ++j)
    for (int64_t i = 0; i < n; ++i) dst[i * ldd + j] = src[j * lds + i];
}

// B's rows k0 .. k0+kc, columns n0 .. n0+cols, into a kc x NR panel, zero past cols.
__attribute__((noinline)) void pack_b_panel(const GemmOperand& b, int64_t k0, int64_t kc,
                                            int64_t n0, int cols, int nr, float* dst) {
  if (b.transposed) {  // B's columns are rows of the stored matrix: read along them
    transpose_rows(b.data + n0 * b.ld + k0, b.ld, cols, kc, dst, nr);
  } else {
    for (int64_t i = 0; i < kc; ++i)
      std::memcpy(dst + i * nr, b.data + (k0 + i) * b.ld + n0, sizeof(float) * cols);
  }
  for (int64_t i = 0; i < kc; ++i) std::fill(dst + i * nr + cols, dst + (i + 1) * nr, 0.0f);
}

}  // namespace

void sgemm(int64_t m, int64_t n, int64_t k, GemmOperand a, GemmOperand b, float* c, int64_t ldc,
           std::vector<float>* scratch, const GemmKernel& kernel, int64_t k_block) {
  const int mr = kernel.mr, nr = kernel.nr;
  const int64_t row_panels = (m + mr - 1) / mr;
  const int64_t kc_max =
      std::max<int64_t>(1, std::min(k, k_block > 0 ? k_block : gemm_k_block(kernel)));
  // Grown only: a vector shrunk and grown again zero-fills what it regains, which callers
  // alternating sizes (a training step's layers) paid for on every call.
  const size_t need = static_cast<size_t>((row_panels * mr + nr) * kc_max + mr);
  if (scratch->size() < need) scratch->resize(need);
  float* ap = scratch->data();
  float* bp = ap + row_panels * mr * kc_max;
  float* zero_bias = bp + nr * kc_max;
  std::fill(zero_bias, zero_bias + mr, 0.0f);
  // k == 0 still runs one (empty) block: C = 0.
  for (int64_t k0 = 0; k0 == 0 || k0 < k; k0 += kc_max) {
    const int64_t kc = std::min(kc_max, k - k0);
    const GemmTileFn tile = k0 == 0 ? kernel.tile : kernel.tile_acc;
    pack_a_block(a, m, k0, kc, mr, ap);
    for (int64_t n0 = 0; n0 < n; n0 += nr) {
      const int cols = static_cast<int>(std::min<int64_t>(nr, n - n0));
      const bool packed = b.transposed || cols < nr;  // else read in place
      if (packed) pack_b_panel(b, k0, kc, n0, cols, nr, bp);
      const float* panel = packed ? bp : b.data + k0 * b.ld + n0;
      const int64_t ld = packed ? nr : b.ld;
      for (int64_t p = 0; p < row_panels; ++p)
        tile(ap + p * kc * mr, panel, ld, kc, zero_bias, false, c + p * mr * ldc + n0, ldc,
             static_cast<int>(std::min<int64_t>(mr, m - p * mr)), cols);
    }
    if (k == 0) break;
  }
}

}  // namespace sqz::kernels
