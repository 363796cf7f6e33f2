// How far apart two CPUs are, round by round: the round trip of one cache line between threads
// pinned to them (each waits for the other's store), each CPU's rate on independent
// multiply-adds alone and both at once, and each one's read rate over a 32 MiB buffer the
// first one wrote. A shared host's "slow spells" (docs/performance-log.md, session 38) show as
// a longer round trip while the compute rates hold: the two vCPUs then sit farther apart, and
// any engine's 2-thread pass falls to about its 1-thread time.
// usage: vcpu_probe [ROUNDS] [CPU_A CPU_B]   (defaults: 10, 0 1; a round every ~0.5 s)
#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

#include "bench_args.h"
#include "sqz/kernels/cpu_clones.h"

namespace {

using Clock = std::chrono::steady_clock;

bool pin(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0;
}

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Median round trip, in microseconds, of `trips` hand-offs of one cache line between the
// calling thread (on cpu_a) and a thread on cpu_b.
double round_trip_us(int cpu_a, int cpu_b, int trips) {
  alignas(64) std::atomic<int> ball{0};
  std::atomic<bool> stop{false};
  std::thread echo([&] {
    pin(cpu_b);
    while (!stop.load(std::memory_order_relaxed)) {
      const int v = ball.load(std::memory_order_acquire);
      if (v & 1) ball.store(v + 1, std::memory_order_release);
    }
  });
  pin(cpu_a);
  std::vector<double> us;
  for (int i = 0; i < trips; ++i) {
    const auto t0 = Clock::now();
    const int v = ball.load(std::memory_order_relaxed) + 1;
    ball.store(v, std::memory_order_release);
    while (ball.load(std::memory_order_acquire) == v) {
    }
    us.push_back(1e6 * seconds_since(t0));
  }
  stop = true;
  echo.join();
  std::nth_element(us.begin(), us.begin() + trips / 2, us.end());
  return us[static_cast<size_t>(trips / 2)];
}

// Giga multiply-adds a second on 6 independent chains of 8 floats for `secs` (the compiler's
// vectors for the widest ISA it runs: a rate to compare between rounds, not the CPU's peak).
SQZ_CPU_CLONES double madd_rate(double secs) {
  typedef float V __attribute__((vector_size(32)));
  V a[6];
  for (int i = 0; i < 6; ++i) a[i] = V{} + 1.0f + static_cast<float>(i) * 1e-7f;
  const V m = V{} + 0.999999f, c = V{} + 1e-7f;
  int64_t steps = 0;
  const auto t0 = Clock::now();
  double elapsed = 0;
  do {
    for (int k = 0; k < 4096; ++k)
      for (int i = 0; i < 6; ++i) a[i] = a[i] * m + c;
    steps += 4096;
    elapsed = seconds_since(t0);
  } while (elapsed < secs);
  float sink = 0;
  for (int i = 0; i < 6; ++i) sink += a[i][0];
  if (sink == 12345.0f) std::puts("");
  return static_cast<double>(steps) * 48 / elapsed / 1e9;
}

// GB/s of summing `n` floats (a multiple of 64) `reps` times, on 8 independent vector sums.
SQZ_CPU_CLONES double read_rate(const float* p, size_t n, int reps) {
  typedef float V __attribute__((vector_size(32), aligned(4)));
  V sum[8] = {};
  const auto t0 = Clock::now();
  for (int r = 0; r < reps; ++r)
    for (size_t i = 0; i < n; i += 64)
      for (int j = 0; j < 8; ++j) sum[j] += *reinterpret_cast<const V*>(p + i + 8 * j);
  const double s = seconds_since(t0);
  float total = 0;
  for (int j = 0; j < 8; ++j) total += sum[j][0];
  if (total == 12345.0f) std::puts("");
  return 4.0 * static_cast<double>(n) * reps / s / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  const char* usage = "usage: vcpu_probe [ROUNDS] [CPU_A CPU_B]   (defaults: 10, 0 1)\n";
  int64_t rounds = 10, cpu_a = 0, cpu_b = 1;
  const bool help = argc == 2 && std::strcmp(argv[1], "--help") == 0;
  if (help || (argc != 1 && argc != 2 && argc != 4)) {
    std::fputs(usage, help ? stdout : stderr);
    return help ? 0 : 2;
  }
  if (argc >= 2 && !sqz::bench::parse_int(argv[1], 1, 100000, &rounds))
    return sqz::bench::bad_option("vcpu_probe", "ROUNDS", "1 to 100000", argv[1]);
  for (int i = 2; i < argc; ++i)
    if (!sqz::bench::parse_int(argv[i], 0, CPU_SETSIZE - 1, i == 2 ? &cpu_a : &cpu_b))
      return sqz::bench::bad_option("vcpu_probe", i == 2 ? "CPU_A" : "CPU_B",
                                    "a CPU number (0 to 1023)", argv[i]);
  if (cpu_a == cpu_b)
    return sqz::bench::bad_option("vcpu_probe", "CPU_B", "a CPU other than CPU_A", argv[3]);
  const int a = static_cast<int>(cpu_a), b = static_cast<int>(cpu_b);
  if (!pin(b) || !pin(a)) {
    std::fprintf(stderr, "vcpu_probe: cannot run on CPUs %d and %d (taskset, offline?)\n", a, b);
    return 1;
  }
  std::vector<float> big(size_t{32} << 18, 1.0f);  // 32 MiB, written on CPU a
  for (int64_t r = 0; r < rounds; ++r) {
    const double trip = round_trip_us(a, b, 2000);
    double alone[2], both[2], read[2];
    for (int i = 0; i < 2; ++i) {
      std::thread t([&] {
        pin(i ? b : a);
        alone[i] = madd_rate(0.1);
        read[i] = read_rate(big.data(), big.size(), 2);
      });
      t.join();
    }
    std::thread other([&] {
      pin(b);
      both[1] = madd_rate(0.1);
    });
    pin(a);
    both[0] = madd_rate(0.1);
    other.join();
    std::printf(
        "round %lld: round trip %.3f us; multiply-adds alone %.1f / %.1f, both %.1f / %.1f "
        "G/s; 32 MiB read %.1f / %.1f GB/s (CPU %d / %d)\n",
        static_cast<long long>(r + 1), trip, alone[0], alone[1], both[0], both[1], read[0], read[1],
        a, b);
    std::fflush(stdout);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  return 0;
}
