// Codebook decoding with AVX-512 gathers, 16 codes a step (their bytes widened to 32-bit
// indices), the tail by a masked gather and store (no lane past n is read or written). Compiled
// with -mavx512f; called only when the CPU has it (codebook.cc). Uses nothing from headers but the
// intrinsics (always inlined).
#include <immintrin.h>

// GCC 12 warns inside _mm512_cvtepu8_epi32 and the gathers (their undefined pass-through): a
// false positive, as in pool_avx512.cc.
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <cstdint>

extern "C" void sqz_decode_codes_avx512(const uint8_t* codes, int64_t n, const float* book,
                                        float* out) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512i at =
        _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(codes + i)));
    _mm512_storeu_ps(out + i, _mm512_i32gather_ps(at, book, 4));
  }
  if (i == n) return;
  uint8_t rest[16] = {};  // no read past codes[n - 1]
  __builtin_memcpy(rest, codes + i, static_cast<unsigned long>(n - i));
  const __mmask16 tail = static_cast<__mmask16>((1u << (n - i)) - 1);
  const __m512i at = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(rest)));
  _mm512_mask_storeu_ps(out + i, tail,
                        _mm512_mask_i32gather_ps(_mm512_setzero_ps(), tail, at, book, 4));
}
