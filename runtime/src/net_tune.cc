// Plan-time tuning (NetOptions::tune): each convolution's candidates, the kernel and how the
// threads share the layer, timed on the layer's real shape, and the choice kept in a cache
// file keyed by the machine, the thread count and the layer (FFTW's "wisdom").
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <random>
#include <sstream>

#include "net_impl.h"
#include "sqz/core/file_io.h"
#include "sqz/kernels/machine.h"

namespace sqz::runtime {
namespace {

// Timing stops for the rest of the layers past this budget (they take the rule): SqueezeNet
// tunes in well under it.
constexpr double kTuneBudgetSeconds = 2.0;
// Per candidate: at most this long, at least kMinRuns timed runs after one untimed.
constexpr int64_t kCandidateNs = 4'000'000;
constexpr int kMinRuns = 3, kMaxRuns = 10;
// A cache file larger than this is ignored (and rewritten).
constexpr size_t kMaxCacheBytes = size_t{4} << 20;
constexpr const char* kCacheHeader = "# squeeze-compress tuning cache v1: key<TAB>choice\n";

std::mutex g_defaults_mu;
TuningDefaults g_defaults;

std::string machine_key() {
  const Machine& m = machine();
  std::string key = m.vendor + " " + m.model_name + " f" + std::to_string(m.family) + "m" +
                    std::to_string(m.model) + "s" + std::to_string(m.stepping) + " " +
                    kernels::isa_name(m.isa) + " l2=" + std::to_string(m.l2_bytes);
  for (char& c : key)
    if (c == '\t' || c == '\n' || c == '\r') c = ' ';
  return key;
}

std::string layer_key(const ConvPlan& p, const Layer& l, const NetOptions& o, int threads) {
  const ConvShape& s = p.run_shape;
  std::ostringstream k;
  k << machine_key() << " | t=" << threads << " policy=" << static_cast<int>(o.policy)
    << " | in=" << s.in_c << "x" << s.in_h << "x" << s.in_w << " out=" << s.out_c << "x" << s.out_h
    << "x" << s.out_w << " k=" << s.kh << "x" << s.kw << " s=" << s.sh << "x" << s.sw
    << " p=" << s.ph << "x" << s.pw << " g=" << s.groups
    << " stored=" << stored_weights(l)
    << " codes=" << l.quant.codebook.size() << " mask=" << !l.mask.empty() << " relu=" << p.relu;
  return k.str();
}

// "sparse|dense shared|blocks|rule FLOATS"
std::string choice_text(bool sparse, const ConvSchedule& s) {
  const char* split = s.split == ConvSchedule::Split::kShared   ? "shared"
                      : s.split == ConvSchedule::Split::kBlocks ? "blocks"
                                                                : "rule";
  return std::string(sparse ? "sparse " : "dense ") + split + " " + std::to_string(s.block_floats);
}

bool parse_choice(const std::string& text, bool* sparse, ConvSchedule* s) {
  std::istringstream in(text);
  std::string kernel, split;
  long long floats = -1;
  if (!(in >> kernel >> split >> floats) || floats < 0 || floats > (int64_t{1} << 30)) return false;
  if (kernel != "sparse" && kernel != "dense") return false;
  *sparse = kernel == "sparse";
  if (split == "shared") {
    s->split = ConvSchedule::Split::kShared;
  } else if (split == "blocks") {
    s->split = ConvSchedule::Split::kBlocks;
  } else if (split == "rule") {
    s->split = ConvSchedule::Split::kRule;
  } else {
    return false;
  }
  s->block_floats = floats;
  return true;
}

}  // namespace

Result<ConvSchedule> parse_schedule(const std::string& text) {
  if (text == "shared") return ConvSchedule{ConvSchedule::Split::kShared, 0};
  char* end = nullptr;
  const long long floats =
      text.rfind("blocks:", 0) == 0 ? std::strtoll(text.c_str() + 7, &end, 10) : -1;
  SQZ_RETURN_ERROR_IF(floats < 1 || floats > (int64_t{1} << 30) || !end || *end,
                      ErrorCode::kInvalidArgument,
                      "schedule '" + text.substr(0, 40) + "': want shared or blocks:FLOATS");
  return ConvSchedule{ConvSchedule::Split::kBlocks, floats};
}

TuningDefaults default_tuning() {
  std::lock_guard<std::mutex> lock(g_defaults_mu);
  return g_defaults;
}

void set_default_tuning(const TuningDefaults& defaults) {
  std::lock_guard<std::mutex> lock(g_defaults_mu);
  g_defaults = defaults;
}

std::string default_tune_cache_path() {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  const char* home = std::getenv("HOME");
  if (xdg && *xdg == '/') return std::string(xdg) + "/squeeze-compress/tune-v1.txt";
  if (home && *home == '/') return std::string(home) + "/.cache/squeeze-compress/tune-v1.txt";
  return "";
}

std::unique_ptr<TuneCache> open_tune_cache(const NetOptions& options) {
  auto cache = std::make_unique<TuneCache>();
  cache->path = options.tune_cache.empty() ? default_tune_cache_path() : options.tune_cache;
  if (cache->path.empty()) return cache;
  std::error_code ec;
  if (!std::filesystem::exists(cache->path, ec)) return cache;
  auto text = read_file(cache->path, kMaxCacheBytes);
  if (!text.is_ok()) {
    cache->note = "tuning cache not read: " + text.status().message();
    cache->read_only = true;
    return cache;
  }
  // A file that is not one of ours is read from and never overwritten (it may be anything
  // the user pointed `tune_cache` at by mistake).
  if (!text->empty() && text->rfind(kCacheHeader, 0) != 0) {
    cache->note = cache->path + " is not a tuning cache (no header line); left as it is";
    cache->read_only = true;
    return cache;
  }
  // Lines that do not parse are dropped (and rewritten when something new is tuned).
  std::istringstream in(*text);
  for (std::string line; std::getline(in, line);) {
    const size_t tab = line.find('\t');
    if (line.empty() || line[0] == '#' || tab == std::string::npos) continue;
    bool sparse;
    ConvSchedule s;
    if (parse_choice(line.substr(tab + 1), &sparse, &s))
      cache->entries[line.substr(0, tab)] = line.substr(tab + 1);
  }
  return cache;
}

void close_tune_cache(const TuneCache& cache, PlanStats* stats) {
  stats->cache_path = cache.path;
  stats->note = cache.note;
  if (!cache.dirty || cache.path.empty() || cache.read_only) return;
  std::string text = kCacheHeader;
  for (const auto& [key, choice] : cache.entries) text += key + "\t" + choice + "\n";
  std::error_code ec;
  const auto dir = std::filesystem::path(cache.path).parent_path();
  if (!dir.empty()) std::filesystem::create_directories(dir, ec);
  if (Status s = write_file_atomic(cache.path, text, true); !s.is_ok())
    stats->note = "tuning cache not written: " + s.message();
}

double Net::Impl::time_conv(const ConvPlan& p, const ConvOp& op, int64_t budget_ns) {
  const ConvShape& s = p.run_shape;
  std::vector<float> in(static_cast<size_t>(s.in_c * s.in_h * s.in_w));
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1, 1);
  for (float& x : in) x = u(rng);
  std::vector<float> out(static_cast<size_t>(s.out_c * s.out_size()));
  const std::vector<const float*> ins{in.data()};
  const std::vector<float*> outs{out.data()};
  execute_conv(p, op, ins, outs);  // untimed: caches, pages, the pool's threads awake
  double best = 1e30;
  const auto start = std::chrono::steady_clock::now();
  for (int r = 0; r < kMaxRuns; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    execute_conv(p, op, ins, outs);
    const auto t1 = std::chrono::steady_clock::now();
    best = std::min(best, std::chrono::duration<double>(t1 - t0).count());
    if (r + 1 >= kMinRuns && (t1 - start).count() > budget_ns) break;
  }
  return best;
}

void Net::Impl::tune_conv(size_t i, TuneCache* cache) {
  ConvPlan& p = convs[i];
  LayerProfile& prof = profiles[i];
  const std::string key = layer_key(p, model.layers[i], options, pool->threads());
  bool sparse = false;
  if (auto it = cache->entries.find(key);
      it != cache->entries.end() && parse_choice(it->second, &sparse, &p.schedule)) {
    p.op = make_conv_op(i, sparse);
    if (p.op) {
      prof.plan = "cache";
      ++stats.cached;
      return;
    }
  }
  // Past the time budget the layer takes the rule, untimed.
  if (cache->spent_seconds > kTuneBudgetSeconds) {
    p.op = make_rule_op(i);
    p.schedule = {};
    prof.plan = "rule (tuning time spent)";
    return;
  }
  const auto t0 = std::chrono::steady_clock::now();
  double best = 0;
  int candidates = 0;
  time_candidates(i, &sparse, &best, &candidates);
  cache->spent_seconds +=
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  char line[96];
  std::snprintf(line, sizeof line, "tuned %s %.3f ms (%d candidates)",
                choice_text(sparse, p.schedule).c_str(), best * 1e3, candidates);
  prof.plan = line;
  cache->entries[key] = choice_text(sparse, p.schedule);
  cache->dirty = true;
  ++stats.timed;
}

void Net::Impl::time_candidates(size_t i, bool* sparse, double* best_seconds, int* candidates) {
  ConvPlan& p = convs[i];
  // Kernels: the policy's, or both under kAuto; schedules: shared, or blocks of 1/8, 1/4 and
  // 1/2 of one thread's L2 (a 1x1 layer read in place ignores them).
  std::vector<std::pair<bool, std::unique_ptr<ConvOp>>> ops;
  if (options.policy != KernelPolicy::kDense) ops.emplace_back(true, make_conv_op(i, true));
  if (options.policy != KernelPolicy::kSparse) ops.emplace_back(false, make_conv_op(i, false));
  const int64_t l2 = kernels::l2_per_thread(machine()) / static_cast<int64_t>(sizeof(float));
  std::vector<ConvSchedule> schedules{{ConvSchedule::Split::kShared, 0}};
  for (int64_t d : {8, 4, 2}) schedules.push_back({ConvSchedule::Split::kBlocks, l2 / d});
  double best = 1e30;
  size_t best_op = 0;
  for (size_t k = 0; k < ops.size(); ++k) {
    if (!ops[k].second) continue;
    size_scratch(*ops[k].second);
    for (const ConvSchedule& sched : schedules) {
      ConvPlan trial;
      trial.run_shape = p.run_shape;
      trial.schedule = sched;
      const double t = time_conv(trial, *ops[k].second, kCandidateNs);
      ++*candidates;
      if (t < best) best = t, best_op = k, p.schedule = sched;
    }
  }
  *best_seconds = best;
  *sparse = ops[best_op].first;
  p.op = std::move(ops[best_op].second);
  if (!p.op) {  // only the SpMM was allowed and it cannot run this layer
    p.op = make_conv_op(i, false);
    *sparse = false;
  }
}

}  // namespace sqz::runtime
