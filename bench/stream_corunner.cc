// A memory co-runner for bench/contention.sh: writes through MIB MiB over and over, one store
// per cache line, on the CPU it is started on (taskset), until killed or its parent exits (a
// background job whose shell was killed must not stream on). It stands in for a noisy
// neighbour on a shared host: it takes the shared L3 and DRAM bandwidth, not the other core.
// usage: stream_corunner MIB   (1 to 4096)
#include <sys/prctl.h>
#include <unistd.h>

#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <new>
#include <vector>

#include "bench_args.h"

int main(int argc, char** argv) {
  int64_t mib = 0;
  if (argc != 2 || std::strcmp(argv[1], "--help") == 0) {
    std::fprintf(argc == 2 ? stdout : stderr, "usage: stream_corunner MIB   (1 to 4096)\n");
    return argc == 2 ? 0 : 2;
  }
  if (!sqz::bench::parse_int(argv[1], 1, 4096, &mib))
    return sqz::bench::bad_option("stream_corunner", "MIB", "1 to 4096", argv[1]);
  const pid_t parent = getppid();
  if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent) return 1;  // orphaned already
  std::vector<float> a;
  try {
    a.assign(static_cast<size_t>(mib) << 18, 1.0f);
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "stream_corunner: cannot allocate %lld MiB\n", static_cast<long long>(mib));
    return 1;
  }
  for (;;) {
    for (size_t i = 0; i < a.size(); i += 16) a[i] += 1.0f;
    // Read back so that the stores are not optimized away (a float never reaches this).
    if (a[a.size() / 2] < 0.0f) return 1;
  }
}
