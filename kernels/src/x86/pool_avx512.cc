// 3x3 / stride-2 max pooling with AVX-512 (SqueezeNet's pools): the rows' tails by masked
// loads and stores instead of scalar remainders, which on 13- to 55-wide rows were most of the
// work. Compiled with -mavx512f; called only when the CPU has it (pool.cc). Uses nothing from
// headers but the intrinsics (always inlined): no shared inline definition leaves this TU.
#include <immintrin.h>

// GCC 12 warns inside _mm512_max_ps (its _mm512_undefined_ps pass-through): a false positive.
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <cstdint>

#include "pool_rows.inc"

namespace {

inline __mmask16 tail(int64_t n) {
  return n >= 16 ? 0xFFFF : n <= 0 ? 0 : static_cast<__mmask16>((1u << n) - 1);
}

// max of the three rows at columns [x, x + 16), zero past `used`.
inline __m512 column_max(const float* r0, const float* r1, const float* r2, int64_t x,
                         int64_t used) {
  if (x + 16 <= used)  // masked loads only at the tail: they cost more (on Zen 5, ~2x here)
    return _mm512_max_ps(_mm512_max_ps(_mm512_loadu_ps(r0 + x), _mm512_loadu_ps(r1 + x)),
                         _mm512_loadu_ps(r2 + x));
  const __mmask16 m = tail(used - x);
  return _mm512_max_ps(
      _mm512_max_ps(_mm512_maskz_loadu_ps(m, r0 + x), _mm512_maskz_loadu_ps(m, r1 + x)),
      _mm512_maskz_loadu_ps(m, r2 + x));
}

}  // namespace

// For each of `channels` planes (in_plane / out_plane floats apart), out[oy][ox] = max over
// rows 2oy..2oy+2 and columns 2ox..2ox+2, every window inside the plane. The row maxima stay in
// registers (a store then an overlapping unaligned reload would stall store forwarding).
extern "C" void sqz_maxpool_3x3s2_avx512(const float* in, int64_t in_plane, int64_t in_w,
                                         int64_t channels, int64_t out_h, int64_t out_w, float* out,
                                         int64_t out_plane) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
  const __m512i next = _mm512_add_epi32(even, _mm512_set1_epi32(2));  // lane 15: 32, wraps to 0
  const int64_t used = 2 * out_w + 1;  // input columns the windows read
  for_each_output_row(
      in, in_plane, in_w, channels, out_h, out_w, out, out_plane,
      [&](const float* r0, const float* r1, const float* r2, float* o) {
        __m512 v0 = column_max(r0, r1, r2, 0, used);
        for (int64_t ox = 0; ox < out_w; ox += 16) {
          // Columns 2ox .. 2ox + 47 of the row maxima in v0, v1, v2.
          const __m512 v1 = column_max(r0, r1, r2, 2 * ox + 16, used);
          const __m512 v2 = column_max(r0, r1, r2, 2 * ox + 32, used);
          __m512 third = _mm512_permutex2var_ps(v0, next, v1);
          third = _mm512_mask_permutexvar_ps(third, 0x8000, _mm512_setzero_si512(), v2);
          const __m512 m = _mm512_max_ps(_mm512_max_ps(_mm512_permutex2var_ps(v0, even, v1),
                                                       _mm512_permutex2var_ps(v0, odd, v1)),
                                         third);
          _mm512_mask_storeu_ps(o + ox, tail(out_w - ox), m);
          v0 = v2;
        }
      });
}
