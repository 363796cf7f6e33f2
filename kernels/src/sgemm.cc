#include "sqz/kernels/sgemm.h"

#include <algorithm>
#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace sqz::kernels {
namespace {

// The packing functions stay out of line: inlined into sgemm's loops, GCC 12 made the whole
// worse (`perf` of bench_train on a Zen 3: sgemm with its packs 10.8% of the time inlined,
// 8.8% out of line).

#if defined(__x86_64__)
// Columns i .. i+7 of src's rows j .. j+7 into dst's rows i .. i+7 (columns j .. j+7). The
// rows are loaded in 4-float halves, rows q and q+4 into one register, so two shuffle stages
// (16 shuffles) finish the transpose and no lane-crossing permute is needed.
__attribute__((target("avx"), always_inline)) inline void transpose_8x8(const float* src,
                                                                         int64_t lds, float* dst,
                                                                         int64_t ldd) {
  __m256 lo[4], hi[4];  // columns 0-3 and 4-7 of rows (q, q + 4)
  for (int q = 0; q < 4; ++q) {
    const float* r = src + q * lds;
    const float* r4 = src + (q + 4) * lds;
    lo[q] = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(r)), _mm_loadu_ps(r4), 1);
    hi[q] = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(r + 4)),
                                 _mm_loadu_ps(r4 + 4), 1);
  }
  for (int half = 0; half < 2; ++half) {
    const __m256* v = half ? hi : lo;
    const __m256 t0 = _mm256_unpacklo_ps(v[0], v[1]), t1 = _mm256_unpackhi_ps(v[0], v[1]);
    const __m256 t2 = _mm256_unpacklo_ps(v[2], v[3]), t3 = _mm256_unpackhi_ps(v[2], v[3]);
    float* d = dst + half * 4 * ldd;
    _mm256_storeu_ps(d, _mm256_shuffle_ps(t0, t2, 0x44));
    _mm256_storeu_ps(d + ldd, _mm256_shuffle_ps(t0, t2, 0xEE));
    _mm256_storeu_ps(d + 2 * ldd, _mm256_shuffle_ps(t1, t3, 0x44));
    _mm256_storeu_ps(d + 3 * ldd, _mm256_shuffle_ps(t1, t3, 0xEE));
  }
}

// Rows j .. j+7 of the transpose below in 8x8 blocks; returns the columns done (a multiple of 8).
__attribute__((target("avx"))) int64_t transpose_8_rows(const float* src, int64_t lds, int64_t n,
                                                        float* dst, int64_t ldd) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) transpose_8x8(src + i, lds, dst + i * ldd, ldd);
  return i;
}
#endif

// dst[i * ldd + j] = src[j * lds + i] for j < rows, i < n: 8x8 register transposes with
// `avx` (the AVX kernels' packing), 4x4 (SSE, baseline x86-64) for the remaining rows and
// columns, scalar at the edges. Moves floats only: the same bits either way.
void transpose_rows(const float* src, int64_t lds, int rows, int64_t n, float* dst, int64_t ldd,
                    bool avx) {
  int j = 0;
#if defined(__x86_64__)
  if (avx)
    for (; j + 8 <= rows; j += 8) {
      const int64_t done = transpose_8_rows(src + j * lds, lds, n, dst + j, ldd);
      for (int64_t i = done; i < n; ++i)
        for (int q = 0; q < 8; ++q) dst[i * ldd + j + q] = src[(j + q) * lds + i];
    }
#endif
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

// Columns k0 .. k0+kc of A's m rows, in MR-row panels: [panel][kc][MR], rows past m zero.
__attribute__((noinline)) void pack_a_block(const GemmOperand& a, int64_t m, int64_t k0, int64_t kc,
                                            int mr, bool avx, float* dst) {
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
    transpose_rows(a.data + p * mr * a.ld + k0, a.ld, rows, kc, panel, mr, avx);
    for (int r = rows; r < mr; ++r)
      for (int64_t i = 0; i < kc; ++i) panel[i * mr + r] = 0.0f;
  }
}

// B's rows k0 .. k0+kc, columns n0 .. n0+cols, into a kc x NR panel, zero past cols.
__attribute__((noinline)) void pack_b_panel(const GemmOperand& b, int64_t k0, int64_t kc,
                                            int64_t n0, int cols, int nr, bool avx, float* dst) {
  if (b.transposed) {  // B's columns are rows of the stored matrix: read along them
    transpose_rows(b.data + n0 * b.ld + k0, b.ld, cols, kc, dst, nr, avx);
  } else {
    for (int64_t i = 0; i < kc; ++i)
      std::memcpy(dst + i * nr, b.data + (k0 + i) * b.ld + n0, sizeof(float) * cols);
  }
  for (int64_t i = 0; i < kc; ++i) std::fill(dst + i * nr + cols, dst + (i + 1) * nr, 0.0f);
}

// C = A * B as the tiles compute it, C row-major with stride ldc. work: MR-row panels of one K
// block of A, then one B panel, then MR zeros (the tiles' bias).
void multiply(int64_t m, int64_t n, int64_t k, GemmOperand a, GemmOperand b, float* c,
              int64_t ldc, float* work, const GemmKernel& kernel, int64_t kc_max) {
  const int mr = kernel.mr, nr = kernel.nr;
  const bool avx = kernel.isa != Isa::kGeneric;  // its CPU runs AVX
  const int64_t row_panels = (m + mr - 1) / mr;
  float* ap = work;
  float* bp = ap + row_panels * mr * kc_max;
  float* zero_bias = bp + nr * kc_max;
  std::fill(zero_bias, zero_bias + mr, 0.0f);
  // k == 0 still runs one (empty) block: C = 0.
  for (int64_t k0 = 0; k0 == 0 || k0 < k; k0 += kc_max) {
    const int64_t kc = std::min(kc_max, k - k0);
    const GemmTileFn tile = k0 == 0 ? kernel.tile : kernel.tile_acc;
    pack_a_block(a, m, k0, kc, mr, avx, ap);
    for (int64_t n0 = 0; n0 < n; n0 += nr) {
      const int cols = static_cast<int>(std::min<int64_t>(nr, n - n0));
      const bool packed = b.transposed || cols < nr;  // else read in place
      if (packed) pack_b_panel(b, k0, kc, n0, cols, nr, avx, bp);
      const float* panel = packed ? bp : b.data + k0 * b.ld + n0;
      const int64_t ld = packed ? nr : b.ld;
      for (int64_t p = 0; p < row_panels; ++p)
        tile(ap + p * kc * mr, panel, ld, kc, zero_bias, false, c + p * mr * ldc + n0, ldc,
             static_cast<int>(std::min<int64_t>(mr, m - p * mr)), cols);
    }
    if (k == 0) break;
  }
}

int64_t round_up(int64_t x, int64_t to) { return (x + to - 1) / to * to; }

// Floats of the tiles computed for an m x n product: rows in MR panels, columns in NR panels.
int64_t tiles_area(int64_t m, int64_t n, const GemmKernel& kernel) {
  return round_up(m, kernel.mr) * round_up(n, kernel.nr);
}

}  // namespace

void sgemm(int64_t m, int64_t n, int64_t k, GemmOperand a, GemmOperand b, float* c, int64_t ldc,
           std::vector<float>* scratch, const GemmKernel& kernel, int64_t k_block) {
  const int64_t kc_max =
      std::max<int64_t>(1, std::min(k, k_block > 0 ? k_block : gemm_k_block(kernel)));
  // A narrow C (a weight gradient dW = dY x cols^T of 9 to 48 columns: N is the layer's
  // input taps) fills a fraction of each NR-wide tile; its transpose C^T = B^T A^T may fill
  // them better. Either way each element is the same products added in the same order
  // (a*b == b*a), so the result is the same bits. Turned round, C also passes through a
  // transpose: worth it only when the multiply-adds the fuller tiles save cost more than
  // moving C's m x n floats, each at least a load and a store, two vector instructions, as
  // many as 2 * vec_floats multiply-adds. (Before session 34 any saving turned a product
  // round: at 224x224 a forward product of 64 output channels, 66 rows of 6-row tiles against
  // 64 columns of 64-column ones, saved 3% of its lanes and transposed a 50 MB output.)
  const int64_t saved = tiles_area(m, n, kernel) - tiles_area(n, m, kernel);
  const bool transpose = saved > 0 && saved * std::max<int64_t>(k, 1) >
                                          2 * int64_t{kernel.vec_floats} * m * n;
  const int64_t rows = transpose ? n : m;
  const size_t work = static_cast<size_t>((round_up(rows, kernel.mr) + kernel.nr) * kc_max +
                                          kernel.mr);
  const size_t need = work + (transpose ? static_cast<size_t>(m * n) : 0);
  // Grown only: a vector shrunk and grown again zero-fills what it regains, which callers
  // alternating sizes (a training step's layers) paid for on every call.
  if (scratch->size() < need) scratch->resize(need);
  if (!transpose) {
    multiply(m, n, k, a, b, c, ldc, scratch->data(), kernel, kc_max);
    return;
  }
  float* ct = scratch->data() + work;  // C^T, n x m
  multiply(n, m, k, {b.data, b.ld, !b.transposed}, {a.data, a.ld, !a.transposed}, ct, m,
           scratch->data(), kernel, kc_max);
  transpose_rows(ct, m, static_cast<int>(n), m, c, ldc, kernel.isa != Isa::kGeneric);
}

}  // namespace sqz::kernels
