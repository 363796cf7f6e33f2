// The weight-gradient products of the training engine, dW[M x N] = dY[M x K] x cols[N x K]^T
// with both operands stored along K: sgemm (which packs them into transposed panels) against
// sgemm_nt (dot products), GFLOP/s, best of alternated runs, per ISA this CPU runs.
// usage: bench_sgemm [--runs N] [M N K]...   (default: the embedded default's conv layers,
// 32 images a shard as at 2 threads: M output channels, N taps, K = 32 x output pixels)
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "sqz/kernels/machine.h"
#include "sqz/kernels/sgemm.h"

namespace {

struct Shape {
  const char* name;
  int64_t m, n, k;
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  using namespace sqz::kernels;
  int runs = 20;
  std::vector<Shape> shapes;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--runs" && i + 1 < argc) {
      runs = std::atoi(argv[++i]);
    } else if (i + 2 < argc) {
      shapes.push_back({"(given)", std::atoll(argv[i]), std::atoll(argv[i + 1]),
                        std::atoll(argv[i + 2])});
      i += 2;
    } else {
      std::fprintf(stderr, "usage: bench_sgemm [--runs N] [M N K]...\n");
      return 2;
    }
  }
  if (runs < 1 || runs > 10000) {
    std::fprintf(stderr, "bench_sgemm: --runs takes 1 to 10000\n");
    return 2;
  }
  for (const Shape& s : shapes)
    if (s.m < 1 || s.n < 1 || s.k < 0 || s.m > (1 << 24) || s.n > (1 << 24) ||
        s.m * s.n > (1 << 24) || s.k > (1 << 24)) {  // each side first: no overflow in M x N
      std::fprintf(stderr, "bench_sgemm: M, N >= 1, K >= 0, M x N and K up to 2^24\n");
      return 2;
    }
  if (shapes.empty())
    shapes = {{"conv1 3x3", 48, 9, 32 * 784},          {"fire2 squeeze", 16, 48, 32 * 169},
              {"fire2 expand1x1", 32, 16, 32 * 169},   {"fire2 expand3x3", 32, 144, 32 * 169},
              {"fire3 squeeze", 16, 64, 32 * 169},     {"fire4 squeeze", 32, 64, 32 * 36},
              {"fire4 expand3x3", 96, 288, 32 * 36},   {"fire5 squeeze", 32, 192, 32 * 36},
              {"fire5 expand3x3", 128, 288, 32 * 36},  {"conv_final", 10, 256, 32 * 36}};
  std::fputs(describe_machine(machine()).c_str(), stdout);
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(-1, 1);
  for (const GemmKernel* kernel : runnable_gemm_kernels()) {
    if (static_cast<int>(kernel->isa) > static_cast<int>(machine().isa)) continue;
    std::printf("%s / %s\n", kernel->name, kernel->dot_name);
    for (const Shape& s : shapes) {
      std::vector<float> a(s.m * s.k), b(s.n * s.k), c(s.m * s.n), scratch;
      for (float& x : a) x = u(rng);
      for (float& x : b) x = u(rng);
      double best_gemm = 1e30, best_nt = 1e30;
      for (int r = 0; r < runs; ++r) {
        auto t0 = std::chrono::steady_clock::now();
        sgemm(s.m, s.n, s.k, {a.data(), s.k}, {b.data(), s.k, true}, c.data(), s.n, &scratch,
              *kernel);
        best_gemm = std::min(best_gemm, seconds_since(t0));
        t0 = std::chrono::steady_clock::now();
        sgemm_nt(s.m, s.n, s.k, a.data(), s.k, b.data(), s.k, c.data(), s.n, &scratch, *kernel);
        best_nt = std::min(best_nt, seconds_since(t0));
      }
      const double gflop = 2e-9 * static_cast<double>(s.m * s.n) * static_cast<double>(s.k);
      std::printf("  %-16s %4lld x %4lld x %6lld  sgemm %6.1f GFLOP/s  sgemm_nt %6.1f GFLOP/s  (%.2fx)\n",
                  s.name, (long long)s.m, (long long)s.n, (long long)s.k, gflop / best_gemm,
                  gflop / best_nt, best_gemm / best_nt);
    }
  }
  return 0;
}
