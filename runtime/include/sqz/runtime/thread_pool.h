// A fixed pool of worker threads running one parallel_for at a time. The work [0, n) is cut
// into a fixed number of equal contiguous chunks (four a thread), and each thread owns a
// contiguous range of them: it runs its own from the front, then takes the others' from their
// backs (pthreadpool's scheme, which XNNPACK uses). When every thread keeps pace, thread t runs
// the same part of every layer, so it reads what it wrote the layer before (callers order
// their items spatially: column panels, row bands) instead of lines another core holds; a
// thread the system has parked or slowed does not hold the others up beyond the chunk it is
// in, and the caller alone finishes the work when no worker turns up. Which thread runs a
// chunk varies; the chunks do not (callers keep results independent of the thread).
// Between calls the workers spin for a short while before they sleep (as ONNX Runtime's and
// XNNPACK's pools do): a network's layers follow each other within microseconds, and waking a
// sleeping thread costs tens of them. A pool of more threads than the process may run at once
// (usable_cpus) never spins: a spinning thread would take the CPU a working one needs.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "sqz/core/status.h"

namespace sqz::runtime {

// Most threads a pool runs: more than any CPU this runs on has cores, few enough that their
// stacks fit a small address space's limits.
constexpr int kMaxThreads = 1024;

// How many threads the process can run at once: the CPUs its affinity mask allows, fewer
// under a cgroup CPU quota (own_cgroup_cpu_limit, cpu_quota.h); at least 1.
int usable_cpus();

class ThreadPool {
 public:
  // A pool of `threads` in 1..kMaxThreads: threads - 1 workers are started, the caller is
  // thread 0. kInvalidArgument out of range; kLimit when the system
  // cannot start a thread (the ones started are stopped again).
  static Result<std::unique_ptr<ThreadPool>> create(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int threads() const { return static_cast<int>(workers_.size()) + 1; }
  // Calls fn(begin, end, thread_index) on disjoint ranges covering [0, n); returns when all
  // are done. thread_index < threads() is unique among the calls running at one time.
  // Not reentrant.
  void parallel_for(int64_t n, const std::function<void(int64_t, int64_t, int)>& fn);

 private:
  ThreadPool() = default;
  void stop_workers();
  void worker_loop(int index);
  // Runs chunks of the call `generation`: the own range's from the front, then the others'
  // from their backs, until none is left.
  void run_chunks(int index, uint64_t generation);
  // Takes the next chunk of `owner`'s range (its front or its back) if the range belongs to
  // call `gen` and is not empty.
  bool claim(int owner, bool from_front, uint32_t gen, uint64_t* chunk);
  void run_chunk(uint64_t chunk, int index);
  // Waits until generation_ differs from seen (or stop_); returns false on stop.
  bool wait_for_work(uint64_t seen);

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable start_cv_;
  // The current call: published before the ranges (release), read after claiming a chunk.
  const std::function<void(int64_t, int64_t, int)>* fn_ = nullptr;
  int64_t n_ = 0;
  uint64_t chunks_ = 0;
  // Each thread's range of the current call's chunks, on a cache line of its own.
  struct alignas(64) Range {
    std::atomic<uint64_t> word{0};
  };
  std::unique_ptr<Range[]> ranges_;
  std::atomic<int64_t> done_{0};  // chunks of the current call finished
  std::atomic<uint64_t> generation_{0};
  std::atomic<bool> stop_{false};
  int sleepers_ = 0;  // workers waiting on start_cv_ (guarded by mu_)
  bool oversubscribed_ = false;  // more threads than usable_cpus(): waits yield, never spin
};

}  // namespace sqz::runtime
