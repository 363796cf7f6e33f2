#include "sqz/runtime/thread_pool.h"

#include <algorithm>
#include <chrono>
#include <system_error>

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
// Pauses before a waiting thread starts yielding its core to others.
constexpr int kPausesBeforeYield = 20000;
// Chunks per thread: enough that a fast thread can take over a slow one's share.
constexpr int64_t kChunksPerThread = 4;

uint64_t chunk_count(uint64_t ticket) { return (ticket >> 16) & 0xffff; }
uint64_t next_chunk(uint64_t ticket) { return ticket & 0xffff; }

void relax(int spins) {
  if (spins < kPausesBeforeYield)
    SQZ_CPU_RELAX();
  else
    std::this_thread::yield();  // let whatever else wants this core run
}

}  // namespace

Result<std::unique_ptr<ThreadPool>> ThreadPool::create(int threads) {
  SQZ_RETURN_ERROR_IF(threads < 1 || threads > kMaxThreads, ErrorCode::kInvalidArgument,
                      "the thread count must be in 1.." + std::to_string(kMaxThreads) + ", not " +
                          std::to_string(threads));
  std::unique_ptr<ThreadPool> pool(new ThreadPool());
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

void ThreadPool::run_chunks(int index) {
  uint64_t t = ticket_.load(std::memory_order_acquire);
  for (;;) {
    const uint64_t chunks = chunk_count(t), c = next_chunk(t);
    if (c >= chunks) return;
    if (!ticket_.compare_exchange_weak(t, t + 1, std::memory_order_acq_rel,
                                       std::memory_order_acquire))
      continue;  // t now holds the current ticket
    const int64_t begin = n_ * static_cast<int64_t>(c) / static_cast<int64_t>(chunks);
    const int64_t end = n_ * static_cast<int64_t>(c + 1) / static_cast<int64_t>(chunks);
    if (begin < end) (*fn_)(begin, end, index);
    done_.fetch_add(1, std::memory_order_acq_rel);
    t = ticket_.load(std::memory_order_acquire);
  }
}

bool ThreadPool::wait_for_work(uint64_t seen) {
  const auto until = std::chrono::steady_clock::now() + kSpin;
  for (int spins = 0;; ++spins) {
    if (generation_.load(std::memory_order_acquire) != seen) return true;
    if (stop_.load(std::memory_order_acquire)) return false;
    relax(spins);
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
    run_chunks(index);
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
  const uint64_t chunks = static_cast<uint64_t>(std::min(n, kChunksPerThread * threads()));
  done_.store(0, std::memory_order_relaxed);
  const uint64_t gen = generation_.load(std::memory_order_relaxed) + 1;
  ticket_.store((gen & 0xffffffff) << 32 | chunks << 16, std::memory_order_release);
  {
    // Under the lock, so that a worker between its last spin and its wait cannot miss it.
    std::lock_guard<std::mutex> lock(mu_);
    generation_.store(gen, std::memory_order_release);
    if (sleepers_ > 0) start_cv_.notify_all();
  }
  run_chunks(0);
  for (int spins = 0; done_.load(std::memory_order_acquire) != static_cast<int64_t>(chunks);
       ++spins)
    relax(spins);
}

}  // namespace sqz::runtime
