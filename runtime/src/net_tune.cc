// Plan-time tuning (NetOptions::tune): each convolution's candidates, the kernel and how the
// threads share the layer, timed on the layer's real shape, and the choice kept in a cache
// file keyed by the machine, the thread count and the layer (FFTW's "wisdom").
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <filesystem>
#include <mutex>
#include <random>
#include <sstream>

#include <unistd.h>

#include "net_impl.h"
#include "sqz/core/file_io.h"
#include "sqz/kernels/machine.h"

namespace sqz::runtime {
namespace {

// Timing stops for the rest of the layers past this budget (they take the rule): SqueezeNet
// tunes in well under it.
constexpr double kTuneBudgetSeconds = 2.0;
// A cache file larger than this is ignored (and rewritten).
constexpr size_t kMaxCacheBytes = size_t{4} << 20;
constexpr const char* kCacheHeader = "# squeeze-compress tuning cache v1: key<TAB>choice\n";

std::mutex g_defaults_mu;
TuningDefaults g_defaults;

// The CPU, the ISA in use, and the caches a choice's defaults follow: a cached SpMM choice
// without chunk= runs a thread's L1d share, which differs between a VM that gives its vCPUs
// cores of their own and one that gives them a core's hyperthreads, on the same CPU.
std::string machine_key() {
  const Machine& m = machine();
  std::string key = m.vendor + " " + m.model_name + " f" + std::to_string(m.family) + "m" +
                    std::to_string(m.model) + "s" + std::to_string(m.stepping) + " " +
                    kernels::isa_name(m.isa) + " l2=" + std::to_string(m.l2_bytes) +
                    " l1d/thread=" + std::to_string(kernels::l1d_per_thread(m));
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
  // A stem whose max pooling runs inside it is timed so (time_in_rounds): another choice than
  // the same convolution alone. (Lines from before session 32 lack this and are timed again.)
  if (const auto& ps = p.fusable_pool)
    k << " pool=" << ps->kh << "x" << ps->kw << "/" << ps->sh << "x" << ps->sw;
  return k.str();
}

// "sparse|dense shared|blocks|panels|rule FLOATS[ isa=NAME][ chunk=BYTES][ rows=1][ kblock=ROWS]
// [ direct]": the extras only when they are not the defaults (the widest ISA allowed, the L1d
// share, the kernel's pairs of rows, one pass over K, the GEMM), so that lines written before they
// existed still parse (a sparse line from before the pairs runs them: the same choice, in the
// kernel's newer form; a dense line from before the direct convolution keeps the GEMM).
std::string choice_text(const KernelChoice& c, const ConvSchedule& s) {
  const char* split = s.split == ConvSchedule::Split::kShared   ? "shared"
                      : s.split == ConvSchedule::Split::kBlocks ? "blocks"
                      : s.split == ConvSchedule::Split::kPanels ? "panels"
                                                                : "rule";
  std::string text = std::string(c.sparse ? "sparse " : "dense ") + split + " " +
                     std::to_string(s.block_floats);
  if (c.isa) text += std::string(" isa=") + kernels::isa_name(*c.isa);
  if (c.chunk_bytes > 0) text += " chunk=" + std::to_string(c.chunk_bytes);
  if (c.one_row) text += " rows=1";
  if (c.k_block > 0) text += " kblock=" + std::to_string(c.k_block);
  if (c.direct) text += " direct";
  return text;
}

// The K chunks a cache line may name: from 1 KiB to 4 MiB of B; K blocks up to 65,536 rows.
constexpr int64_t kMinChunkBytes = 1 << 10, kMaxChunkBytes = 4 << 20, kMaxKBlockRows = 65536;

bool parse_extra(const std::string& token, KernelChoice* c) {
  if (token.rfind("isa=", 0) == 0) {
    for (Isa isa : {Isa::kGeneric, Isa::kAvx2, Isa::kAvx512})
      if (token.substr(4) == kernels::isa_name(isa)) return c->isa = isa, true;
    return false;
  }
  if (token == "rows=1" && c->sparse) return c->one_row = true, true;
  if (token == "direct" && !c->sparse) return c->direct = true, true;
  char* end = nullptr;
  if (token.rfind("kblock=", 0) == 0 && !c->sparse) {
    const long long rows = std::strtoll(token.c_str() + 7, &end, 10);
    if (!end || *end || rows < 1 || rows > kMaxKBlockRows) return false;
    c->k_block = rows;
    return true;
  }
  if (token.rfind("chunk=", 0) != 0 || !c->sparse) return false;
  const long long bytes = std::strtoll(token.c_str() + 6, &end, 10);
  if (!end || *end || bytes < kMinChunkBytes || bytes > kMaxChunkBytes) return false;
  c->chunk_bytes = bytes;
  return true;
}

bool parse_choice(const std::string& text, KernelChoice* c, ConvSchedule* s) {
  std::istringstream in(text);
  std::string kernel, split;
  long long floats = -1;
  if (!(in >> kernel >> split >> floats) || floats < 0 || floats > (int64_t{1} << 30)) return false;
  if (kernel != "sparse" && kernel != "dense") return false;
  *c = KernelChoice{kernel == "sparse", std::nullopt, 0, false, 0};
  if (split == "shared") {
    s->split = ConvSchedule::Split::kShared;
  } else if (split == "blocks") {
    s->split = ConvSchedule::Split::kBlocks;
  } else if (split == "panels") {
    s->split = ConvSchedule::Split::kPanels;
  } else if (split == "rule") {
    s->split = ConvSchedule::Split::kRule;
  } else {
    return false;
  }
  s->block_floats = floats;
  for (std::string token; in >> token;)
    if (!parse_extra(token, c)) return false;
  return true;
}

}  // namespace

Result<ConvSchedule> parse_schedule(const std::string& text) {
  if (text == "shared") return ConvSchedule{ConvSchedule::Split::kShared, 0};
  if (text == "panels") return ConvSchedule{ConvSchedule::Split::kPanels, 0};
  char* end = nullptr;
  const long long floats =
      text.rfind("blocks:", 0) == 0 ? std::strtoll(text.c_str() + 7, &end, 10) : -1;
  SQZ_RETURN_ERROR_IF(
      floats < 1 || floats > (int64_t{1} << 30) || !end || *end, ErrorCode::kInvalidArgument,
      "schedule '" + text.substr(0, 40) + "': want shared, blocks:FLOATS or panels");
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
  // A HOME that is not a folder (a service account's /nonexistent) gets no cache, not a home
  // made for it.
  std::error_code ec;
  if (home && *home == '/' && std::filesystem::is_directory(home, ec))
    return std::string(home) + "/.cache/squeeze-compress/tune-v1.txt";
  return "";
}

namespace {

// A tuning cache file's text: empty, or starting with the cache's header line.
Result<std::string> read_cache_file(const std::string& path) {
  SQZ_ASSIGN_OR_RETURN(std::string text, read_file(path, kMaxCacheBytes));
  SQZ_RETURN_ERROR_IF(!text.empty() && text.rfind(kCacheHeader, 0) != 0,
                      ErrorCode::kInvalidArgument,
                      path + ": is not a tuning cache (its first line is not the cache's "
                             "header); name a new file or one that tuning wrote");
  return text;
}

}  // namespace

Status check_tune_cache(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  SQZ_RETURN_ERROR_IF(path.empty(), ErrorCode::kInvalidArgument, "the tuning cache path is empty");
  if (fs::exists(path, ec)) {
    // Read-only is fine: a cache tuned once and shipped with the model.
    auto text = read_cache_file(path);
    return text.is_ok() ? Status::ok() : Status(ErrorCode::kInvalidArgument, text.status().message());
  }
  // A new file: its folders are created, so the nearest one that exists must be a writable
  // directory.
  fs::path dir = fs::path(path).parent_path();
  while (!dir.empty() && !fs::exists(dir, ec) && dir != dir.parent_path()) dir = dir.parent_path();
  if (dir.empty()) dir = ".";
  SQZ_RETURN_ERROR_IF(!fs::is_directory(dir, ec), ErrorCode::kInvalidArgument,
                      path + ": " + dir.string() + " is not a directory");
  SQZ_RETURN_ERROR_IF(::access(dir.c_str(), W_OK) != 0, ErrorCode::kInvalidArgument,
                      path + ": cannot create the tuning cache in " + dir.string() +
                          " (not writable)");
  return Status::ok();
}

std::unique_ptr<TuneCache> open_tune_cache(const NetOptions& options) {
  auto cache = std::make_unique<TuneCache>();
  cache->path = options.tune_cache.empty() ? default_tune_cache_path() : options.tune_cache;
  if (cache->path.empty()) return cache;
  std::error_code ec;
  if (!std::filesystem::exists(cache->path, ec)) return cache;
  // A file that cannot be read, or is not one of ours, is left as it is (it may be anything the
  // user pointed `tune_cache` at by mistake).
  auto text = read_cache_file(cache->path);
  if (!text.is_ok()) {
    cache->note = "tuning cache not read: " + text.status().message() + "; left as it is";
    cache->read_only = true;
    return cache;
  }
  // Lines that do not parse are dropped (and rewritten when something new is tuned).
  std::istringstream in(*text);
  for (std::string line; std::getline(in, line);) {
    const size_t tab = line.find('\t');
    if (line.empty() || line[0] == '#' || tab == std::string::npos) continue;
    KernelChoice c;
    ConvSchedule s;
    if (parse_choice(line.substr(tab + 1), &c, &s))
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

void Net::Impl::tune_conv(size_t i, TuneCache* cache) {
  ConvPlan& p = convs[i];
  LayerProfile& prof = profiles[i];
  const std::string key = layer_key(p, model.layers[i], options, pool->threads());
  KernelChoice choice;
  if (auto it = cache->entries.find(key);
      it != cache->entries.end() && parse_choice(it->second, &choice, &p.schedule)) {
    p.op = make_conv_op(i, choice);  // null when that kernel is not available here
    if (p.op) {
      prof.plan = "cache: " + it->second;
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
  time_candidates(i, &choice, &best, &candidates);
  cache->spent_seconds +=
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  char line[160];
  const bool pooled = p.timed_with_pool && p.op && pool_fuses_into(p, *p.op);
  std::snprintf(line, sizeof line, "tuned %s %.3f ms%s (%d candidates)",
                choice_text(choice, p.schedule).c_str(), best * 1e3,
                pooled ? " with the pooling inside" : "", candidates);
  prof.plan = line;
  cache->entries[key] = choice_text(choice, p.schedule);
  cache->dirty = true;
  ++stats.timed;
}

}  // namespace sqz::runtime
