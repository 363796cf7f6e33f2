#include "sqz/runtime/thread_pool.h"

#include <sched.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <system_error>

#include "sqz/runtime/cpu_quota.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define SQZ_CPU_RELAX() _mm_pause()
#else
#define SQZ_CPU_RELAX() std::this_thread::yield()
#endif

namespace sqz::runtime {
namespace {

// How long an idle worker spins before it sleeps: longer than the gap between two layers,
// short enough that an idle pool costs nothing noticeable.
constexpr auto kSpin = std::chrono::microseconds(2000);
// How long a waiting thread pauses before it starts yielding its core to others: a time, not
// a count of PAUSEs, whose latency differs several-fold between CPUs (Intel's optimization
// manual, "Pause Latency in Skylake Microarchitecture": about 140 cycles from Skylake on, a
// tenth of that before). 20,000 PAUSEs, the count used before, took 0.5 ms on a Zen 4.
constexpr auto kPauseBeforeYield = std::chrono::microseconds(500);
// Chunks per thread: enough that a fast thread can take over a slow one's share.
constexpr int64_t kChunksPerThread = 4;

// A thread's range word: the call's generation (32 bits) | next chunk from the front (16) |
// end of the range (16). The owner takes from the front, the others from the back.
uint64_t range_word(uint64_t gen, uint64_t front, uint64_t back) {
  return (gen & 0xffffffff) << 32 | front << 16 | back;
}
uint32_t tag(uint64_t word) { return static_cast<uint32_t>(word >> 32); }
uint64_t front(uint64_t word) { return (word >> 16) & 0xffff; }
uint64_t back(uint64_t word) { return word & 0xffff; }

// One turn of a wait loop: PAUSE, or once kPauseBeforeYield has passed since the loop's first
// turn (or from the first turn, with yield_now), yield (the clock read every 256 turns).
class Relax {
 public:
  explicit Relax(bool yield_now) : yielding_(yield_now) {}
  void operator()() {
    if (!yielding_ && (++spins_ & 255) == 0)
      yielding_ = std::chrono::steady_clock::now() - start_ > kPauseBeforeYield;
    if (yielding_)
      std::this_thread::yield();  // let whatever else wants this core run
    else
      SQZ_CPU_RELAX();
  }

 private:
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  unsigned spins_ = 0;
  bool yielding_ = false;
};

}  // namespace

int usable_cpus() {
  static const int cpus = [] {
    cpu_set_t set;
    int n = sched_getaffinity(0, sizeof set, &set) == 0
                ? CPU_COUNT(&set)
                : static_cast<int>(std::thread::hardware_concurrency());
    if (const int limit = own_cgroup_cpu_limit(); limit > 0) n = std::min(n, limit);
    return std::max(n, 1);
  }();
  return cpus;
}

Result<std::unique_ptr<ThreadPool>> ThreadPool::create(int threads) {
  SQZ_RETURN_ERROR_IF(threads < 1 || threads > kMaxThreads, ErrorCode::kInvalidArgument,
                      "the thread count must be in 1.." + std::to_string(kMaxThreads) + ", not " +
                          std::to_string(threads));
  std::unique_ptr<ThreadPool> pool(new ThreadPool());
  pool->oversubscribed_ = threads > usable_cpus();
  pool->ranges_.reset(new Range[static_cast<size_t>(threads)]);
  for (int i = 1; i < threads; ++i) {
    try {
      pool->workers_.emplace_back([p = pool.get(), i] { p->worker_loop(i); });
    } catch (const std::system_error& e) {
      pool->stop_workers();  // the destructor then joins nothing twice
      return Status(ErrorCode::kLimit, "cannot start " + std::to_string(threads) +
                                           " threads (the system refused thread " +
                                           std::to_string(i + 1) + ": " + e.what() + ")");
    }
  }
  return pool;
}

void ThreadPool::stop_workers() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_.store(true);
  }
  start_cv_.notify_all();
  for (std::thread& t : workers_) t.join();
  workers_.clear();
}

ThreadPool::~ThreadPool() { stop_workers(); }

void ThreadPool::run_chunk(uint64_t c, int index) {
  const auto chunks = static_cast<int64_t>(chunks_);
  const int64_t begin = n_ * static_cast<int64_t>(c) / chunks;
  const int64_t end = n_ * static_cast<int64_t>(c + 1) / chunks;
  if (begin < end) (*fn_)(begin, end, index);
  done_.fetch_add(1, std::memory_order_acq_rel);
}

bool ThreadPool::claim(int owner, bool from_front, uint32_t gen, uint64_t* chunk) {
  std::atomic<uint64_t>& word = ranges_[static_cast<size_t>(owner)].word;
  uint64_t w = word.load(std::memory_order_acquire);
  for (;;) {
    if (tag(w) != gen || front(w) >= back(w)) return false;
    const uint64_t next = from_front ? w + (uint64_t{1} << 16) : w - 1;
    if (word.compare_exchange_weak(w, next, std::memory_order_acq_rel, std::memory_order_acquire)) {
      *chunk = from_front ? front(w) : back(w) - 1;
      return true;
    }
  }
}

void ThreadPool::run_chunks(int index, uint64_t generation) {
  const auto gen = static_cast<uint32_t>(generation);
  uint64_t c = 0;
  while (claim(index, true, gen, &c)) run_chunk(c, index);
  const int threads = this->threads();
  for (int k = 1; k < threads; ++k) {
    const int victim = (index + k) % threads;
    while (claim(victim, false, gen, &c)) run_chunk(c, index);
  }
}

bool ThreadPool::wait_for_work(uint64_t seen) {
  const auto until = std::chrono::steady_clock::now() + kSpin;
  Relax relax(oversubscribed_);
  for (int spins = 0; !oversubscribed_; ++spins) {
    if (generation_.load(std::memory_order_acquire) != seen) return true;
    if (stop_.load(std::memory_order_acquire)) return false;
    relax();
    if ((spins & 255) == 255 && std::chrono::steady_clock::now() > until) break;
  }
  std::unique_lock<std::mutex> lock(mu_);
  ++sleepers_;
  start_cv_.wait(
      lock, [&] { return stop_.load() || generation_.load(std::memory_order_acquire) != seen; });
  sleepers_ -= 1;
  return !stop_.load();
}

void ThreadPool::worker_loop(int index) {
  uint64_t seen = 0;
  while (wait_for_work(seen)) {
    seen = generation_.load(std::memory_order_acquire);
    run_chunks(index, seen);
  }
}

void ThreadPool::parallel_for(int64_t n, const std::function<void(int64_t, int64_t, int)>& fn) {
  if (workers_.empty() || n <= 1) {
    if (n > 0) fn(0, n, 0);
    return;
  }
  // Every chunk of the previous call is done (it returned), so no thread touches these now.
  fn_ = &fn;
  n_ = n;
  const int threads = this->threads();
  const uint64_t chunks = static_cast<uint64_t>(std::min(n, kChunksPerThread * threads));
  chunks_ = chunks;
  done_.store(0, std::memory_order_relaxed);
  const uint64_t gen = generation_.load(std::memory_order_relaxed) + 1;
  for (int t = 0; t < threads; ++t)
    ranges_[static_cast<size_t>(t)].word.store(
        range_word(gen, chunks * t / threads, chunks * (t + 1) / threads),
        std::memory_order_release);
  {
    // Under the lock, so that a worker between its last spin and its wait cannot miss it.
    std::lock_guard<std::mutex> lock(mu_);
    generation_.store(gen, std::memory_order_release);
    if (sleepers_ > 0) start_cv_.notify_all();
  }
  run_chunks(0, gen);
  Relax relax(oversubscribed_);
  while (done_.load(std::memory_order_acquire) != static_cast<int64_t>(chunks)) relax();
}

}  // namespace sqz::runtime
