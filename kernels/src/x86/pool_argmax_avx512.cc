// 3-wide, stride-2 max pooling with winners (the training engine's SqueezeNet pools) with
// AVX-512: 16 outputs of a row at a time, where pool_argmax.cc's SSE2 path takes 4. Compiled
// with -mavx512f; called only when the runtime's ISA is AVX-512 (pool_argmax.cc). Uses
// nothing from headers but the intrinsics (always inlined): no shared inline definition
// leaves this TU.
#include <immintrin.h>

// GCC 12 warns inside the masked intrinsics (their _mm512_undefined pass-through): a false
// positive.
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <cstdint>

namespace {

inline __mmask16 first_lanes(int64_t n) {
  return n >= 16 ? 0xFFFF : n <= 0 ? 0 : static_cast<__mmask16>((1u << n) - 1);
}

}  // namespace

// Outputs [0, n) of one output row: input rows [y0, y1) of a plane w floats wide, output ox's
// window columns 2ox .. 2ox + 2, every one inside the row (2n + 1 <= w). Each lane visits its
// window in row-major order and takes a value only when strictly larger (NaN never is), so the
// first largest wins, as the naive twin; a window with no winner gets out 0, arg -1. arg is
// the winner's index in the plane (y * w + x). REQUIRES y1 * w < 2^31.
extern "C" void sqz_maxpool_argmax_3s2_row_avx512(const float* plane, int64_t w, int64_t y0,
                                                  int64_t y1, int64_t n, float* out, int32_t* arg) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
  const __m512i next = _mm512_add_epi32(even, _mm512_set1_epi32(2));  // lane 15: 32, see below
  for (int64_t ox = 0; ox < n; ox += 16) {
    const int64_t lanes = n - ox < 16 ? n - ox : 16;
    const int64_t columns = 2 * lanes + 1;  // the block's windows read columns 2ox .. 2ox + 2 lanes
    const __mmask16 low = first_lanes(columns), high = first_lanes(columns - 16);
    __m512 best = _mm512_set1_ps(-__builtin_inff());
    __m512i at = _mm512_set1_epi32(-1);
    for (int64_t y = y0; y < y1; ++y) {
      const float* row = plane + y * w + 2 * ox;
      const __m512 v0 = _mm512_maskz_loadu_ps(low, row), v1 = _mm512_maskz_loadu_ps(high, row + 16);
      __m512 third = _mm512_permutex2var_ps(v0, next, v1);  // lane 15 wrapped to column 0
      if (lanes == 16) third = _mm512_mask_mov_ps(third, 0x8000, _mm512_set1_ps(row[32]));
      const __m512 column[3] = {_mm512_permutex2var_ps(v0, even, v1),
                                _mm512_permutex2var_ps(v0, odd, v1), third};
      const __m512i first =
          _mm512_add_epi32(_mm512_set1_epi32(static_cast<int32_t>(y * w + 2 * ox)), even);
      for (int dx = 0; dx < 3; ++dx) {
        const __mmask16 larger = _mm512_cmp_ps_mask(column[dx], best, _CMP_GT_OQ);
        best = _mm512_mask_mov_ps(best, larger, column[dx]);
        at = _mm512_mask_mov_epi32(at, larger, _mm512_add_epi32(first, _mm512_set1_epi32(dx)));
      }
    }
    const __mmask16 won = _mm512_cmpneq_epi32_mask(at, _mm512_set1_epi32(-1));
    const __mmask16 store = first_lanes(lanes);
    _mm512_mask_storeu_ps(out + ox, store, _mm512_maskz_mov_ps(won, best));
    _mm512_mask_storeu_epi32(arg + ox, store, at);
  }
}
