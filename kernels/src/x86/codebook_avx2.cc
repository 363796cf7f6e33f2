// Codebook decoding with AVX2 gathers, 8 codes a step (their bytes widened to 32-bit indices),
// the tail one code at a time. Compiled with -mavx2; called only when the CPU has it
// (codebook.cc). Uses nothing from headers but the intrinsics (always inlined).
#include <immintrin.h>

#include <cstdint>

extern "C" void sqz_decode_codes_avx2(const uint8_t* codes, int64_t n, const float* book,
                                      float* out) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    int64_t eight;
    __builtin_memcpy(&eight, codes + i, 8);
    const __m256i at = _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(eight));
    _mm256_storeu_ps(out + i, _mm256_i32gather_ps(book, at, 4));
  }
  for (; i < n; ++i) out[i] = book[codes[i]];
}
