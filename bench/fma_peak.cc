// One core's peak float32 multiply-add rate under each ISA path the CPU runs: 12 independent
// chains of FMAs (enough to cover 4 cycles of latency on 2 ports), no loads. What a kernel's
// GFLOP/s in `bench -v` is a fraction of, and how far apart the AVX2 and AVX-512 paths can be
// on this CPU: about 2x where a core has two 512-bit FMA units (Intel server cores), about 1x
// where AVX-512 runs on 256-bit units (Zen 4).
// usage: fma_peak [ROUNDS]   (default 3; a round is ~0.2 s an ISA)
#include <immintrin.h>

#include <chrono>
#include <cstdio>

#include "bench_args.h"
#include "sqz/kernels/machine.h"

namespace {

constexpr int kChains = 12;
constexpr long kSteps = 20000000;

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

__attribute__((target("avx2,fma"))) double avx2_gflops() {
  __m256 a[kChains];
  for (int i = 0; i < kChains; ++i) a[i] = _mm256_set1_ps(1.0f + static_cast<float>(i) * 1e-7f);
  const __m256 m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
  const auto t0 = std::chrono::steady_clock::now();
  for (long s = 0; s < kSteps; ++s)
#pragma GCC unroll 12  // the chains in registers (a loop over memory would time the stores)
    for (int i = 0; i < kChains; ++i) a[i] = _mm256_fmadd_ps(a[i], m, c);
  const double secs = seconds_since(t0);
  float sink = 0;
  for (int i = 0; i < kChains; ++i) sink += _mm256_cvtss_f32(a[i]);
  if (sink == 12345.0f) std::puts("");
  return kSteps * kChains * 8.0 * 2 / secs / 1e9;
}

__attribute__((target("avx512f"))) double avx512_gflops() {
  __m512 a[kChains];
  for (int i = 0; i < kChains; ++i) a[i] = _mm512_set1_ps(1.0f + static_cast<float>(i) * 1e-7f);
  const __m512 m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
  const auto t0 = std::chrono::steady_clock::now();
  for (long s = 0; s < kSteps; ++s)
#pragma GCC unroll 12
    for (int i = 0; i < kChains; ++i) a[i] = _mm512_fmadd_ps(a[i], m, c);
  const double secs = seconds_since(t0);
  float sink = 0;
  for (int i = 0; i < kChains; ++i) sink += _mm512_cvtss_f32(a[i]);
  if (sink == 12345.0f) std::puts("");
  return kSteps * kChains * 16.0 * 2 / secs / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t rounds = 3;
  if (argc == 2 && !sqz::bench::parse_int(argv[1], 1, 1000, &rounds))
    return sqz::bench::bad_option("fma_peak", "ROUNDS", "1 to 1000", argv[1]);
  if (argc > 2) {
    std::fputs("usage: fma_peak [ROUNDS]\n", stderr);
    return 2;
  }
  const sqz::kernels::Machine& m = sqz::kernels::machine();
  std::fputs(sqz::kernels::describe_machine(m).c_str(), stdout);
  const bool avx2 = m.avx2 && m.fma, avx512 = m.avx512f;
  double best2 = 0, best512 = 0;
  for (int64_t r = 1; r <= rounds; ++r) {
    const double y = avx2 ? avx2_gflops() : 0, z = avx512 ? avx512_gflops() : 0;
    best2 = y > best2 ? y : best2;
    best512 = z > best512 ? z : best512;
    std::printf("round %lld: avx2 %.1f GFLOP/s, avx512 %.1f GFLOP/s%s\n", static_cast<long long>(r),
                y, z, avx512 ? "" : " (not run here)");
  }
  std::printf("best: avx2 %.1f, avx512 %.1f GFLOP/s", best2, best512);
  if (best2 > 0 && best512 > 0) std::printf("; avx512 / avx2 %.2f", best512 / best2);
  std::printf("\n");
  return 0;
}
