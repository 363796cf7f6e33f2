// Time to read and fully decode a .sqz into weights (single thread): median of runs.
// usage: bench_sqz FILE.sqz [--runs N]
#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench_args.h"
#include "sqz/core/file_io.h"
#include "sqz/format/sqz_file.h"

int main(int argc, char** argv) {
  constexpr const char* kUsage = "usage: bench_sqz FILE.sqz [--runs N]   (N: 1 to 100000)\n";
  if (argc >= 2 && (std::string(argv[1]) == "-h" || std::string(argv[1]) == "--help")) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  int64_t runs = 50;
  if (argc == 4 && std::string(argv[2]) == "--runs") {
    if (!sqz::bench::parse_int(argv[3], 1, 100000, &runs))
      return sqz::bench::bad_option("bench_sqz", "--runs", "1 to 100000", argv[3]);
  } else if (argc != 2) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  // The first run pays the kernel's first-touch page faults for ~8 MB of fresh weights; the
  // later ones reuse the allocator's memory (no trimming, no mmap), measuring the decoder.
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
  std::vector<double> ms;
  double first = 0;
  for (int r = 0; r < runs + 3; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    auto f = sqz::format::read_sqz(argv[1]);
    const double t =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (!f.is_ok()) {
      std::fprintf(stderr, "bench_sqz: %s\n", f.status().message().c_str());
      return 1;
    }
    if (r == 0) first = t;
    if (r >= 3) ms.push_back(t);
  }
  std::sort(ms.begin(), ms.end());
  std::printf(
      "%s: read + decode into float32 weights: first (cold) run %.2f ms; warm median "
      "%.2f ms, min %.2f ms over %lld runs\n",
      argv[1], first, ms[ms.size() / 2], ms.front(), static_cast<long long>(runs));
  return 0;
}
