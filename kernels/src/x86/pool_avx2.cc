// 3x3 / stride-2 max pooling with AVX2 (SqueezeNet's pools), for CPUs without AVX-512: eight
// outputs per step from the three rows' column maxima, split into even and odd columns by
// in-register shuffles; a row's last eight outputs are computed from an overlapping block
// instead of a scalar remainder. Compiled with -mavx2; called only when the runtime uses AVX2
// (pool.cc). Uses nothing from headers but the intrinsics (always inlined).
#include <immintrin.h>

#include <cstdint>

#include "pool_rows.inc"

namespace {

// The max of the three rows at columns [x, x + 8).
inline __m256 column_max(const float* r0, const float* r1, const float* r2, int64_t x) {
  return _mm256_max_ps(_mm256_max_ps(_mm256_loadu_ps(r0 + x), _mm256_loadu_ps(r1 + x)),
                       _mm256_loadu_ps(r2 + x));
}

// Lanes 0, 2, .., 14 (SEL = 0x88) or 1, 3, .., 15 (SEL = 0xDD) of the 16 floats lo:hi.
template <int SEL>
inline __m256 every_other(__m256 lo, __m256 hi) {
  const __m256 mixed = _mm256_shuffle_ps(lo, hi, SEL);  // per 128-bit half: lo lo hi hi
  return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(mixed), 0xD8));
}

// Outputs ox .. ox + 7 of one row: the windows at columns 2ox + 2i .. 2ox + 2i + 2, which
// read columns 2ox .. 2ox + 16 only.
inline void eight_outputs(const float* r0, const float* r1, const float* r2, int64_t ox, float* o) {
  const int64_t x = 2 * ox;
  const __m256 v0 = column_max(r0, r1, r2, x), v1 = column_max(r0, r1, r2, x + 8);
  const __m256 u0 = column_max(r0, r1, r2, x + 1), u1 = column_max(r0, r1, r2, x + 9);
  const __m256 m =
      _mm256_max_ps(_mm256_max_ps(every_other<0x88>(v0, v1), every_other<0xDD>(v0, v1)),
                    every_other<0xDD>(u0, u1));
  _mm256_storeu_ps(o + ox, m);
}

}  // namespace

// For each of `channels` planes (in_plane / out_plane floats apart), out[oy][ox] = max over
// rows 2oy..2oy+2 and columns 2ox..2ox+2, every window inside the plane. REQUIRES out_w >= 8.
extern "C" void sqz_maxpool_3x3s2_avx2(const float* in, int64_t in_plane, int64_t in_w,
                                       int64_t channels, int64_t out_h, int64_t out_w, float* out,
                                       int64_t out_plane) {
  for_each_output_row(in, in_plane, in_w, channels, out_h, out_w, out, out_plane,
                      [&](const float* r0, const float* r1, const float* r2, float* o) {
                        int64_t ox = 0;
                        for (; ox + 8 <= out_w; ox += 8) eight_outputs(r0, r1, r2, ox, o);
                        // The last outputs from an overlapping block: the same values again.
                        if (ox < out_w) eight_outputs(r0, r1, r2, out_w - 8, o);
                      });
}
