// Plan-time tuning's candidates for one convolution (NetOptions::tune): which are tried, and
// how they are timed (in rounds, tune_rounds.h). The cache and the per-layer decision to time
// or to read a choice back are net_tune.cc's.
#include <chrono>
#include <cmath>
#include <limits>
#include <random>

#include "net_impl.h"
#include "sqz/kernels/machine.h"
#include "tune_rounds.h"

namespace sqz::runtime {

namespace {

// Per candidate and round of candidates: at least kMinRuns timed runs (after one untimed),
// more while the round has taken less than kCandidateSeconds a candidate, at most kMaxRuns.
constexpr double kCandidateSeconds = 0.004;
constexpr int kMinRuns = 3, kMaxRuns = 10;

bool same_kernel(const KernelChoice& a, const KernelChoice& b) {
  return a.sparse == b.sparse && a.isa == b.isa && a.chunk_bytes == b.chunk_bytes &&
         a.one_row == b.one_row && a.k_block == b.k_block && a.direct == b.direct;
}

}  // namespace

std::vector<double> Net::Impl::time_in_rounds(size_t i, const std::vector<TuneCandidate>& cands) {
  const ConvPlan& p = convs[i];
  const ConvShape& s = p.run_shape;
  // One op a kernel choice (a kernel's candidates are consecutive), each candidate's plan as
  // it will run: a stem with its pooling inside when its op takes it (unfused, the GEMM's
  // conv1 of v1.0 timed 3.3 ms against the direct op's 3.4 and was kept, to run at 4.2-4.7 ms
  // fused against the direct op's 3.5).
  std::vector<std::unique_ptr<ConvOp>> ops;
  std::vector<const ConvOp*> op_of(cands.size(), nullptr);
  std::vector<ConvPlan> plans(cands.size());
  int64_t out_floats = s.out_c * s.out_size();
  for (size_t c = 0; c < cands.size(); ++c) {
    if (c == 0 || !same_kernel(cands[c].choice, cands[c - 1].choice)) {
      ops.push_back(make_conv_op(i, cands[c].choice));  // null: not runnable here
      if (ops.back()) size_scratch(*ops.back());
    }
    op_of[c] = ops.back().get();
    ConvPlan& trial = plans[c];
    trial.run_shape = s;
    trial.pad_only = p.pad_only;
    trial.schedule = cands[c].schedule;
    if (op_of[c] && p.fusable_pool && pool_fuses_into(trial, *op_of[c])) {
      trial.then_pool = p.fusable_pool;
      convs[i].timed_with_pool = true;
      out_floats =
          std::max(out_floats, p.fusable_pool->c * p.fusable_pool->out_h * p.fusable_pool->out_w);
    }
  }
  std::vector<float> in(static_cast<size_t>(s.in_c * s.in_h * s.in_w));
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1, 1);
  for (float& x : in) x = u(rng);
  std::vector<float> out(static_cast<size_t>(out_floats));
  const std::vector<const float*> ins{in.data()};
  const std::vector<float*> outs{out.data()};
  std::vector<size_t> runnable;
  for (size_t c = 0; c < cands.size(); ++c)
    if (op_of[c]) {
      runnable.push_back(c);
      execute_conv(plans[c], *op_of[c], ins, outs);  // untimed: caches, pages, threads awake
    }
  const std::vector<double> fastest = fastest_of_rounds(
      static_cast<int>(runnable.size()), RoundLimits{kMinRuns, kMaxRuns, kCandidateSeconds},
      [&](int k) {
        const size_t c = runnable[static_cast<size_t>(k)];
        const auto t0 = std::chrono::steady_clock::now();
        execute_conv(plans[c], *op_of[c], ins, outs);
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      });
  std::vector<double> seconds(cands.size(), std::numeric_limits<double>::infinity());
  for (size_t k = 0; k < runnable.size(); ++k) seconds[runnable[k]] = fastest[k];
  return seconds;
}

// Three rounds, each from the best so far: (1) the SpMM and the GEMM (as the policy allows)
// under each split: shared, or blocks of 1/8, 1/4 and 1/2 of one thread's L2 (a 1x1 layer
// read in place ignores them); (2) each kernel that came within kNarrowerIsaWithin of the best
// under the next narrower ISA (AVX2 on an AVX-512 CPU: some CPUs lower their clock for
// AVX-512, and the narrower tiles load differently); (3) the SpMM's K chunk at half and twice
// a thread's L1d share and its rows one at a time where its kernel pairs them; or the GEMM's K in
// blocks whose B panel fills half or all of that share (where K is longer; the same bits). A stem's
// direct convolution joins round 1 (and 2). XNNPACK and oneDNN tune the same knobs per shape.
// Rounds 2 and 3 time the best so far again beside their candidates, so that each round
// compares runs of the same moments.
constexpr double kNarrowerIsaWithin = 1.3;

namespace {

// Round 3's candidates around the best choice of rounds 1 and 2: the SpMM's K chunks and its
// rows one at a time (where its kernel pairs them), or the GEMM's K blocks; none for the
// direct convolution.
std::vector<KernelChoice> blocking_candidates(const KernelChoice& best, const ConvShape& s) {
  std::vector<KernelChoice> out;
  if (best.direct) return out;
  if (best.sparse) {
    const int64_t l1 = kernels::l1d_per_thread(machine());
    for (int64_t bytes : {l1 / 2, 2 * l1}) {
      KernelChoice c = best;
      c.chunk_bytes = bytes;
      out.push_back(c);
    }
    const kernels::SpmmKernel* spmm = spmm_kernel_of(best);
    if (spmm && spmm->pairs) {
      KernelChoice c = best;
      c.one_row = true;
      out.push_back(c);
    }
    return out;
  }
  const kernels::GemmKernel* k = gemm_kernel_of(best);
  const int64_t half_l1 = k ? kernels::gemm_k_block(*k) : 0;
  for (int64_t rows : {half_l1, 2 * half_l1}) {
    if (rows < 1 || rows >= s.k_per_group()) continue;
    KernelChoice c = best;
    c.k_block = rows;
    out.push_back(c);
  }
  return out;
}

}  // namespace

// The best of the rounds so far, and how many candidates were timed.
struct TuneBest {
  TuneCandidate best;
  double seconds = std::numeric_limits<double>::infinity();
  int timed = 0;
};

// Times a round's candidates with the best so far among them; the best is re-decided on this
// round's times alone. Returns the round's times (its candidates', in order).
std::vector<double> Net::Impl::time_round(size_t i, std::vector<TuneCandidate> cands, TuneBest* b) {
  const bool with_best = std::isfinite(b->seconds);
  if (with_best) cands.insert(cands.begin(), b->best);
  std::vector<double> times = time_in_rounds(i, cands);
  b->seconds = std::numeric_limits<double>::infinity();
  for (size_t c = 0; c < cands.size(); ++c) {
    if (!std::isfinite(times[c])) continue;
    if (c > 0 || !with_best) ++b->timed;
    if (times[c] < b->seconds) b->seconds = times[c], b->best = cands[c];
  }
  if (with_best) times.erase(times.begin());
  return times;
}

void Net::Impl::time_candidates(size_t i, KernelChoice* choice, double* best_seconds,
                                int* candidates) {
  ConvPlan& p = convs[i];
  const int64_t l2 = kernels::l2_per_thread(machine()) / static_cast<int64_t>(sizeof(float));
  std::vector<ConvSchedule> schedules{{ConvSchedule::Split::kShared, 0}};
  for (int64_t d : {8, 4, 2}) schedules.push_back({ConvSchedule::Split::kBlocks, l2 / d});
  std::vector<bool> kernels_allowed;
  if (options.policy != KernelPolicy::kDense) kernels_allowed.push_back(true);
  if (options.policy != KernelPolicy::kSparse) kernels_allowed.push_back(false);
  TuneBest b;
  b.best.choice = KernelChoice{kernels_allowed.front(), std::nullopt, 0};
  // Round 1: each kernel under each split, and a stem's direct convolution (no split).
  std::vector<TuneCandidate> round;
  for (bool sparse : kernels_allowed)
    for (const ConvSchedule& s : schedules) round.push_back({{sparse, std::nullopt, 0}, s});
  // The SpMM building a size-keeping layer's im2col panel by panel, in L1 (the rule's choice):
  // slower than im2col blocks where a B row serves few output rows (SqueezeNet's 55x55
  // expands of 16 channels on one thread of the Zen 4), docs/performance-log.md.
  if (kernels_allowed.front() && kernels::conv_keeps_size(p.run_shape) &&
      p.run_shape.kh * p.run_shape.kw > 1)
    round.push_back({{true, std::nullopt, 0}, {ConvSchedule::Split::kPanels, 0}});
  KernelChoice direct;
  direct.direct = true;
  const bool try_direct = options.policy != KernelPolicy::kSparse && direct_candidate(p.run_shape);
  if (try_direct) round.push_back({direct, ConvSchedule{}});
  const std::vector<double> first = time_round(i, round, &b);
  auto best_of = [&](auto pick) {  // round 1's best time among the candidates pick() takes
    double t = std::numeric_limits<double>::infinity();
    for (size_t c = 0; c < round.size(); ++c)
      if (pick(round[c].choice)) t = std::min(t, first[c]);
    return t;
  };
  // Round 2: the narrower ISA of each kernel that came close.
  round.clear();
  if (machine().isa == Isa::kAvx512) {
    for (bool sparse : kernels_allowed)
      if (best_of([&](const KernelChoice& c) { return !c.direct && c.sparse == sparse; }) <=
          kNarrowerIsaWithin * b.seconds)
        round.push_back({{sparse, Isa::kAvx2, 0}, b.best.schedule});
    if (try_direct &&
        best_of([](const KernelChoice& c) { return c.direct; }) <= kNarrowerIsaWithin * b.seconds) {
      direct.isa = Isa::kAvx2;
      round.push_back({direct, ConvSchedule{}});
    }
  }
  if (!round.empty()) time_round(i, round, &b);
  // Round 3: blocking around the best, and the SpMM's rows one at a time.
  round.clear();
  for (const KernelChoice& c : blocking_candidates(b.best.choice, p.run_shape))
    round.push_back({c, b.best.schedule});
  if (!round.empty()) time_round(i, round, &b);
  *candidates = b.timed;
  *best_seconds = b.seconds;
  *choice = b.best.choice;
  p.schedule = b.best.schedule;
  p.op = make_conv_op(i, b.best.choice);
  if (!p.op) {  // only the SpMM was allowed and it cannot run this layer
    *choice = KernelChoice{};
    p.op = make_conv_op(i, *choice);
  }
}

}  // namespace sqz::runtime
