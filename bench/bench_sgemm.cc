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

#include "bench_args.h"
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
  int64_t runs = 20;
  std::vector<Shape> shapes;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "-h" || std::string(argv[i]) == "--help") {
      std::printf("usage: bench_sgemm [--runs N] [M N K]...\n");
      return 0;
    }
    if (std::string(argv[i]) == "--runs" && i + 1 < argc) {
      if (!sqz::bench::parse_int(argv[++i], 1, 10000, &runs))
        return sqz::bench::bad_option("bench_sgemm", "--runs", "1 to 10000", argv[i]);
    } else if (i + 2 < argc) {
      // Each side first, then M x N: no overflow.
      Shape s{"(given)", 0, 0, 0};
      const char* side[3] = {"M", "N", "K"};
      int64_t* value[3] = {&s.m, &s.n, &s.k};
      for (int d = 0; d < 3; ++d, ++i)
        if (!sqz::bench::parse_int(argv[i], d < 2 ? 1 : 0, int64_t{1} << 24, value[d]))
          return sqz::bench::bad_option("bench_sgemm", side[d], d < 2 ? "1 to 2^24" : "0 to 2^24",
                                        argv[i]);
      --i;
      if (s.m * s.n > (int64_t{1} << 24)) {
        std::fprintf(stderr, "bench_sgemm: M x N is at most 2^24, not %lld\n",
                     static_cast<long long>(s.m * s.n));
        return 2;
      }
      shapes.push_back(s);
    } else {
      std::fprintf(stderr, "usage: bench_sgemm [--runs N] [M N K]...\n");
      return 2;
    }
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
