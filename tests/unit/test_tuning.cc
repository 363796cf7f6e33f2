// The runtime on any CPU: the machine description, every ISA path (SQZ_ISA), every way the
// threads split a convolution, and plan-time tuning with its cache.
#include <doctest/doctest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <sstream>
#include <tuple>

#include "net_run.h"
#include "other_machines.h"
#include "sqz/format/sqz_file.h"
#include "sqz/kernels/gemm.h"
#include "sqz/kernels/im2col.h"
#include "sqz/kernels/machine.h"
#include "sqz/kernels/spmm.h"
#include "sqz/runtime/net.h"
#include "test_util.h"

using namespace sqz;
using net_test::NetRun;
using net_test::run_net;

namespace {

int convolutions(const Model& m) {
  int n = 0;
  for (const Layer& l : m.layers) n += l.op == OpKind::kConvolution;
  return n;
}

// A model with 55x55 layers (enough columns for several blocks) and its reference outputs.
struct Case {
  Model model;
  std::vector<float> in, want;
  static constexpr int64_t kBatch = 2;
  explicit Case(double density) : model(test::tiny_squeezenet(9, 57, 10, density)) {
    std::mt19937 rng(3);
    in = test::random_floats(rng, kBatch * 3 * 57 * 57, -50, 50);
    runtime::NetOptions ref;
    ref.policy = runtime::KernelPolicy::kReference;
    want = run_net(model, in, kBatch, ref).out;
  }
};

}  // namespace

TEST_CASE("the machine description names the CPU, its ISA and caches") {
  const kernels::Machine& m = kernels::machine();
  const std::string text = kernels::describe_machine(m);
  for (const char* line : {"cpu: ", "isa: ", "caches: ", "cores: "})
    CHECK(text.find(line) != std::string::npos);
  CHECK(m.cores >= 1);
  CHECK(m.logical_processors >= m.cores);
  CHECK(kernels::l2_per_thread(m) >= (int64_t{256} << 10));
  CHECK(static_cast<int>(m.isa) <= static_cast<int>(m.best_isa));
}

TEST_CASE("a CPU libcpuinfo does not know is named from CPUID's family and model") {
  for (const auto& [vendor, family, model, stepping, name] :
       std::vector<std::tuple<std::string, int, int, int, std::string>>{
           {"AMD", 0x17, 0x01, 1, "zen"},        {"AMD", 0x17, 0x31, 0, "zen 2"},
           {"AMD", 0x19, 0x01, 1, "zen 3"},      {"AMD", 0x19, 0x11, 1, "zen 4"},
           {"AMD", 0x19, 0x61, 2, "zen 4"},      {"AMD", 0x1a, 0x02, 1, "zen 5"},
           {"Intel", 6, 0x55, 4, "skylake server"}, {"Intel", 6, 0x55, 7, "cascade lake"},
           {"Intel", 6, 0x55, 11, "cooper lake"},   {"Intel", 6, 0x6a, 6, "sunny cove (ice lake server)"},
           {"Intel", 6, 0x8f, 8, "golden cove (sapphire rapids)"},
           {"AMD", 0x19, 0xf0, 0, ""},           {"Intel", 6, 0x01, 0, ""},
           {"Intel", 15, 0x6a, 0, ""},           {"unknown", 0x19, 0x11, 1, ""}}) {
    INFO(vendor << " family " << family << " model " << model << " stepping " << stepping);
    CHECK(kernels::uarch_from_cpuid(vendor, family, model, stepping) == name);
  }
  // This machine: a name from the table wherever libcpuinfo had none.
  const kernels::Machine& m = kernels::machine();
  const std::string named = kernels::uarch_from_cpuid(m.vendor, m.family, m.model, m.stepping);
  if (!named.empty()) CHECK(m.uarch != "unknown");
}

TEST_CASE("the L1d size the SpMM chunks by comes from the machine, with a floor for none") {
  kernels::Machine m;
  CHECK(kernels::l1d_size(m) == (int64_t{32} << 10));  // none reported
  m.l1d_bytes = 48 << 10;                                // Ice Lake's
  CHECK(kernels::l1d_size(m) == (int64_t{48} << 10));
  m.l1d_bytes = int64_t{1} << 40;  // implausible: not trusted
  CHECK(kernels::l1d_size(m) == (int64_t{32} << 10));
  const kernels::Machine& here = kernels::machine();
  if (here.l1d_bytes >= (4 << 10) && here.l1d_bytes <= (1 << 20))
    CHECK(kernels::l1d_size(here) == here.l1d_bytes);
}

TEST_CASE("a thread's share of the L1d: the L1d over the SMT threads sharing it") {
  kernels::Machine m;
  m.l1d_bytes = 48 << 10;
  m.cores = 1, m.logical_processors = 2;  // one core's two hyperthreads
  CHECK(kernels::l1d_per_thread(m) == (int64_t{48} << 10));  // sharing not reported: one
  m.l1d_shared_by = 2;
  CHECK(kernels::l1d_per_thread(m) == (int64_t{24} << 10));
  m.cores = 2;  // but a core per logical processor: the L1d is the core's own, whatever is said
  CHECK(kernels::l1d_per_thread(m) == (int64_t{48} << 10));
  m.cores = 4, m.logical_processors = 8, m.l1d_shared_by = 0;  // not reported: counted as one
  CHECK(kernels::l1d_per_thread(m) == (int64_t{48} << 10));
  m.cores = 1, m.logical_processors = 1000;
  m.l1d_bytes = 8 << 10, m.l1d_shared_by = 1000;  // implausible sharing: at most 8, 4 KiB floor
  CHECK(kernels::l1d_per_thread(m) == (int64_t{4} << 10));
  m.logical_processors = 2, m.l1d_bytes = 0, m.l1d_shared_by = 2;  // none reported: 32 KiB
  CHECK(kernels::l1d_per_thread(m) == (int64_t{16} << 10));
  // The thread count changes nothing (the SpMM's sums keep their order at every count); the
  // description prints the sharing.
  m.l1d_bytes = 32 << 10;
  CHECK(kernels::describe_machine(m).find("L1d 32 KiB per 2 logical") != std::string::npos);
  const kernels::Machine& here = kernels::machine();
  CHECK(kernels::l1d_per_thread(here) <= kernels::l1d_size(here));
  if (here.logical_processors <= here.cores)  // no SMT: the whole L1d
    CHECK(kernels::l1d_per_thread(here) == kernels::l1d_size(here));
}

TEST_CASE("B buffer rows start on cache lines, an odd number of lines apart") {
  for (int64_t n = 1; n < 2000; ++n) {
    const int64_t ld = kernels::aligned_stride(n);
    CHECK(ld >= n);
    CHECK(ld % 16 == 0);
    CHECK((ld / 16) % 2 == 1);  // spreads a panel's rows over all L1 sets
    CHECK(ld - n < 32);         // at most one line more than rounding up
    CHECK(kernels::rows_on_lines(n) == (n % 16 == 0));
  }
}

TEST_CASE("every thread split of a convolution gives the same bits") {
  for (double density : {1.0, 0.33}) {
    const Case c(density);
    // Batch 1 leaves column blocks too few to share evenly (13x13 on 2 threads, conv1 in
    // 64-column blocks on 3), which the threads then split by rows as well.
    for (int64_t batch : {Case::kBatch, int64_t{1}}) {
      const std::vector<float> in(c.in.begin(), c.in.begin() + batch * 3 * 57 * 57);
      const std::vector<float> want(c.want.begin(), c.want.begin() + batch * 10);
      for (runtime::KernelPolicy policy :
           {runtime::KernelPolicy::kSparse, runtime::KernelPolicy::kDense}) {
        std::vector<float> one_thread;
        for (int threads : {1, 2, 3}) {
          runtime::NetOptions o;
          o.policy = policy;
          o.threads = threads;
          const std::vector<float> rule = run_net(c.model, in, batch, o).out;
          CHECK(test::max_rel_diff(rule, want) < 1e-5);
          if (threads == 1) one_thread = rule;
          CHECK(rule == one_thread);
          for (const char* schedule :
               {"shared", "blocks:64", "blocks:5000", "blocks:1000000", "panels"}) {
            INFO("density " << density << " batch " << batch << " threads " << threads << " "
                            << schedule);
            o.force_schedule = schedule;
            CHECK(run_net(c.model, in, batch, o).out == rule);
          }
        }
      }
    }
  }
  runtime::NetOptions bad;
  bad.force_schedule = "blocks:0";
  CHECK(runtime::Net::create(test::tiny_squeezenet(1), bad).status().code() ==
        ErrorCode::kInvalidArgument);
}

// A plane of few 64-column panels leaves column blocks that the threads cannot share evenly
// (13x13: three on two threads; 15x15: four on three); their rows are then split too.
TEST_CASE("column blocks too few for the threads are split by rows, with the same bits") {
  for (int64_t side : {13, 15}) {
    for (double density : {1.0, 0.3}) {
      std::mt19937 rng(static_cast<uint32_t>(side));
      Model m;
      m.name = "one_conv";
      m.input = "data";
      m.input_shape = {1, 16, side, side};
      Layer conv = make_conv("conv", "data", 16, 64, 3, 1, 1);
      conv.weight.data = test::random_floats(rng, conv.weight.data.size(), -0.5f, 0.5f);
      for (float& w : conv.weight.data)
        if (std::uniform_real_distribution<double>(0, 1)(rng) >= density) w = 0;
      conv.bias.data = test::random_floats(rng, conv.bias.data.size(), -0.1f, 0.1f);
      m.layers.push_back(conv);
      m.output = "conv";
      for (int64_t batch : {1, 2, 3}) {
        const std::vector<float> in = test::random_floats(rng, batch * 16 * side * side, -5, 5);
        runtime::NetOptions ref;
        ref.policy = runtime::KernelPolicy::kReference;
        const std::vector<float> want = run_net(m, in, batch, ref).out;
        std::vector<float> one_thread;
        for (int threads : {1, 2, 3}) {
          INFO(side << "x" << side << ", density " << density << ", batch " << batch << ", "
                    << threads << " thread(s)");
          runtime::NetOptions o;
          o.threads = threads;
          o.force_schedule = "blocks:1000000";  // column blocks, narrowed to share
          const std::vector<float> got = run_net(m, in, batch, o).out;
          CHECK(test::max_rel_diff(got, want) < 1e-5);
          if (threads == 1) one_thread = got;
          CHECK(got == one_thread);
        }
      }
    }
  }
}

TEST_CASE("tuning: outputs within rounding of the reference, choices read back from the cache") {
  test::TempDir dir;
  const Case c(0.4);
  const int convs = convolutions(c.model);
  for (int threads : {1, 2}) {
    INFO("threads " << threads);
    runtime::NetOptions o;
    o.threads = threads;
    o.tune = true;
    o.tune_cache = dir.file("cache-" + std::to_string(threads) + ".txt");
    const NetRun first = run_net(c.model, c.in, Case::kBatch, o);
    // SpMM and GEMM sum in different orders: the tuned net is checked against the reference.
    CHECK(test::max_rel_diff(first.out, c.want) < 1e-5);
    CHECK(first.stats.timed + first.stats.cached == convs);
    CHECK(first.stats.timed >= 1);
    CHECK(first.stats.note.empty());
    REQUIRE(std::filesystem::exists(o.tune_cache));
    const NetRun second = run_net(c.model, c.in, Case::kBatch, o);
    CHECK(second.stats.timed == 0);
    CHECK(second.stats.cached == convs);
    CHECK(second.out == first.out);  // the same choices, the same bits
    for (size_t i = 0; i < second.profile.size(); ++i)
      CHECK(second.profile[i].kernel == first.profile[i].kernel);
  }
  // A damaged cache is not trusted: its lines are dropped and the layers timed again.
  const std::string good = test::read_bytes(dir.file("cache-1.txt"));
  const std::string header = good.substr(0, good.find('\n') + 1);
  test::write_bytes(dir.file("cache-1.txt"),
                    header + "garbage\nkey\tsparse nonsense 7\n\x01\x02\n");
  runtime::NetOptions o;
  o.tune = true;
  o.tune_cache = dir.file("cache-1.txt");
  const NetRun again = run_net(c.model, c.in, Case::kBatch, o);
  CHECK(again.stats.timed >= 1);
  CHECK(test::max_rel_diff(again.out, c.want) < 1e-5);
  CHECK(test::read_bytes(dir.file("cache-1.txt")).find("garbage") == std::string::npos);
  // A file that is not a cache is read, never overwritten.
  test::write_bytes(dir.file("notes.txt"), "my notes\n");
  o.tune_cache = dir.file("notes.txt");
  const NetRun foreign = run_net(c.model, c.in, Case::kBatch, o);
  CHECK(foreign.stats.timed >= 1);
  CHECK(foreign.stats.note.find("not a tuning cache") != std::string::npos);
  CHECK(test::read_bytes(dir.file("notes.txt")) == "my notes\n");
  // A policy fixes the kernel; tuning then chooses only the split.
  o.policy = runtime::KernelPolicy::kSparse;
  o.tune_cache = dir.file("sparse.txt");
  for (const runtime::LayerProfile& p : run_net(c.model, c.in, Case::kBatch, o).profile)
    if (!p.plan.empty()) CHECK(p.kernel.rfind("spmm", 0) == 0);
}

TEST_CASE("tuning: the cache is keyed by a thread's L1d share, not the CPU's name alone") {
  // The same CPU as a VM of a core per vCPU and as one of a core's two hyperthreads: a choice
  // without chunk= runs another K chunk on each, so neither reads the other's entries.
  test::TempDir dir;
  const Case c(0.4);
  kernels::Machine own = kernels::machine(), smt = own;
  own.l1d_bytes = smt.l1d_bytes = 48 << 10;
  own.l1d_shared_by = 1, own.cores = own.logical_processors = 2;
  smt.l1d_shared_by = 2, smt.cores = 1, smt.logical_processors = 2;
  REQUIRE(kernels::l1d_per_thread(own) != kernels::l1d_per_thread(smt));
  runtime::NetOptions o;
  o.tune = true;
  o.tune_cache = dir.file("cache.txt");
  auto timed_on = [&](const kernels::Machine& m) {
    const test::MachineScope scope(&m);
    const NetRun r = run_net(c.model, c.in, Case::kBatch, o);
    CHECK(test::max_rel_diff(r.out, c.want) < 1e-5);
    return r.stats.timed;
  };
  CHECK(timed_on(own) == convolutions(c.model));
  CHECK(timed_on(smt) == convolutions(c.model));  // its own entries, beside the first's
  CHECK(timed_on(own) == 0);
  CHECK(timed_on(smt) == 0);
}

TEST_CASE("the default tuning cache: under XDG_CACHE_HOME, else an existing HOME, else none") {
  auto env = [](const char* name) {
    const char* v = std::getenv(name);
    return v ? std::optional<std::string>(v) : std::nullopt;
  };
  const auto xdg = env("XDG_CACHE_HOME"), home = env("HOME");
  test::TempDir dir;
  ::unsetenv("XDG_CACHE_HOME");
  ::setenv("HOME", dir.path().c_str(), 1);
  CHECK(runtime::default_tune_cache_path() == dir.path() + "/.cache/squeeze-compress/tune-v1.txt");
  ::setenv("XDG_CACHE_HOME", "/xdg", 1);
  CHECK(runtime::default_tune_cache_path() == "/xdg/squeeze-compress/tune-v1.txt");
  ::unsetenv("XDG_CACHE_HOME");
  ::setenv("HOME", (dir.path() + "/absent").c_str(), 1);  // not made for the cache
  CHECK(runtime::default_tune_cache_path().empty());
  ::setenv("HOME", "relative", 1);
  CHECK(runtime::default_tune_cache_path().empty());
  for (const auto& [name, value] : {std::pair{"XDG_CACHE_HOME", xdg}, std::pair{"HOME", home}})
    value ? ::setenv(name, value->c_str(), 1) : ::unsetenv(name);
}

TEST_CASE("check_tune_cache: a path that cannot hold the cache is refused, naming it") {
  test::TempDir dir;
  // Usable: a new file (its folders are created), an empty file, a cache tuning wrote.
  CHECK(runtime::check_tune_cache(dir.file("new.txt")).is_ok());
  CHECK(runtime::check_tune_cache(dir.file("a/b/new.txt")).is_ok());
  test::write_bytes(dir.file("empty.txt"), "");
  CHECK(runtime::check_tune_cache(dir.file("empty.txt")).is_ok());
  const Case c(0.33);
  runtime::NetOptions o;
  o.tune = true;
  o.tune_cache = dir.file("tuned.txt");
  run_net(c.model, c.in, Case::kBatch, o);
  REQUIRE(std::filesystem::exists(o.tune_cache));
  CHECK(runtime::check_tune_cache(o.tune_cache).is_ok());
  // Not usable: each refused with the path and the problem in the message.
  test::write_bytes(dir.file("notes.txt"), "my notes\n");
  test::write_bytes(dir.file("file"), "x");
  for (const auto& [path, words] : std::vector<std::pair<std::string, std::string>>{
           {dir.path(), "is a directory"},
           {"/dev/null", "not a regular file"},
           {dir.file("notes.txt"), "is not a tuning cache"},
           {dir.file("file/cache.txt"), "is not a directory"},
           {"", "empty"}}) {
    const Status s = runtime::check_tune_cache(path);
    INFO(path);
    CHECK(s.code() == ErrorCode::kInvalidArgument);
    CHECK(s.message().find(path) != std::string::npos);
    CHECK(s.message().find(words) != std::string::npos);
  }
  CHECK(test::read_bytes(dir.file("notes.txt")) == "my notes\n");
}

TEST_CASE("SQZ_ISA: every ISA path the CPU runs gives the reference's outputs") {
  test::TempDir dir;
  const Case c(0.33);
  std::string bytes;
  REQUIRE(format::encode_sqz(c.model, {}, &bytes).is_ok());
  test::write_bytes(dir.file("m.sqz"), bytes);
  test::write_bytes(dir.file("in.f32"), std::string(reinterpret_cast<const char*>(c.in.data()),
                                                    c.in.size() * sizeof(float)));
  const kernels::Machine& m = kernels::machine();
  for (kernels::Isa isa : {kernels::Isa::kGeneric, kernels::Isa::kAvx2, kernels::Isa::kAvx512}) {
    const std::string name = kernels::isa_name(isa);
    INFO("SQZ_ISA=" << name);
    ::setenv("SQZ_ISA", name.c_str(), 1);
    const auto bench = test::run_cli({"bench", dir.file("m.sqz"), "-v", "--runs", "1"});
    const bool runs = static_cast<int>(isa) <= static_cast<int>(m.best_isa);
    CHECK(bench.exit_code == 0);
    CHECK(bench.out.find(runs ? "kernels " + name + " (SQZ_ISA=" + name + ")"
                              : "ignored: SQZ_ISA") != std::string::npos);
    if (!runs) CHECK(bench.err.find("note: SQZ_ISA=" + name + " is not supported") != std::string::npos);
    if (runs && isa != kernels::Isa::kGeneric)
      CHECK(bench.out.find("_" + name + " ") != std::string::npos);  // its kernels, by name
    for (const char* threads : {"1", "2"}) {
      const std::string out = dir.file("out-" + name + threads + ".f32");
      const auto r = test::run_cli({"run", dir.file("m.sqz"), "--input-tensor", dir.file("in.f32"),
                                    "--output-tensor", out, "--threads", threads});
      REQUIRE(r.exit_code == 0);
      const std::string raw = test::read_bytes(out);
      std::vector<float> got(raw.size() / sizeof(float));
      std::memcpy(got.data(), raw.data(), raw.size());
      CHECK(test::max_rel_diff(got, c.want) < 1e-5);
    }
  }
  // A misspelt ISA is refused, not run as another (a benchmark labelled avx2 must be AVX2's).
  ::setenv("SQZ_ISA", "avx-2", 1);
  const auto misspelt = test::run_cli({"bench", dir.file("m.sqz"), "-v", "--runs", "1"});
  CHECK(misspelt.exit_code == 2);
  CHECK(misspelt.err.find("SQZ_ISA='avx-2' is not generic, avx2 or avx512") != std::string::npos);
  CHECK(misspelt.out.empty());
  ::unsetenv("SQZ_ISA");
}

namespace {

// Rewrites every line of a tuning cache to `choice` (the keys stay).
void force_cache_choice(const std::string& path, const std::string& choice) {
  std::istringstream in(test::read_bytes(path));
  std::string out, line;
  while (std::getline(in, line)) {
    const size_t tab = line.find('\t');
    out += (tab == std::string::npos ? line : line.substr(0, tab + 1) + choice) + "\n";
  }
  test::write_bytes(path, out);
}

}  // namespace

TEST_CASE("tuning: every kernel, ISA and K chunk a cache line names runs as named") {
  test::TempDir dir;
  const Case c(0.33);
  const int convs = convolutions(c.model);
  const kernels::Isa isa = kernels::machine().isa;
  runtime::NetOptions o;
  o.threads = 2;
  o.tune = true;
  o.tune_cache = dir.file("cache.txt");
  REQUIRE(run_net(c.model, c.in, Case::kBatch, o).stats.timed >= 1);
  const std::string tuned = test::read_bytes(o.tune_cache);
  struct Line {
    std::string choice;
    std::string kernel;  // every layer's kernel name starts so
    kernels::Isa needs;
    bool pairs = false;  // and runs its rows in pairs (SpmmKernel::pairs)
  };
  const bool avx512_pairs = kernels::spmm_kernel_for(kernels::Isa::kAvx512) &&
                            kernels::spmm_kernel_for(kernels::Isa::kAvx512)->pairs;
  const std::vector<Line> lines{
      {"sparse rule 0", "spmm", kernels::Isa::kGeneric, avx512_pairs},
      {"sparse rule 0 rows=1", "spmm", kernels::Isa::kGeneric},
      {"sparse rule 0 chunk=2048 rows=1", "spmm", kernels::Isa::kGeneric},
      {"dense shared 0 isa=generic", "gemm_6x8_f32_generic", kernels::Isa::kGeneric},
      {"sparse blocks 4096 isa=avx2 chunk=1024", "spmm_64_f32_avx2", kernels::Isa::kAvx2},
      {"dense rule 0 isa=avx2", "gemm_6x16_f32_avx2", kernels::Isa::kAvx2},
      {"dense rule 0 direct", "direct_", kernels::Isa::kGeneric},
      {"dense shared 0 isa=avx2 direct", "direct_6x16_f32_avx2", kernels::Isa::kAvx2},
      {"sparse shared 0 isa=avx512 chunk=4194304", "spmm_64_f32_avx512", kernels::Isa::kAvx512,
       avx512_pairs},
      {"sparse panels 0", "spmm", kernels::Isa::kGeneric, avx512_pairs},
      {"sparse panels 0 isa=avx2 chunk=1024", "spmm_64_f32_avx2", kernels::Isa::kAvx2},
      {"dense panels 0 isa=generic", "gemm_6x8_f32_generic", kernels::Isa::kGeneric},
  };
  for (const Line& l : lines) {
    INFO(l.choice);
    test::write_bytes(o.tune_cache, tuned);
    force_cache_choice(o.tune_cache, l.choice);
    const NetRun p = run_net(c.model, c.in, Case::kBatch, o);
    CHECK(test::max_rel_diff(p.out, c.want) < 1e-5);
    if (static_cast<int>(l.needs) > static_cast<int>(isa)) {  // not here: timed instead
      CHECK(p.stats.timed >= 1);
      continue;
    }
    CHECK(p.stats.cached == convs);
    for (const runtime::LayerProfile& prof : p.profile) {
      if (prof.plan.rfind("cache: ", 0) != 0) continue;
      CHECK(prof.plan == "cache: " + l.choice);
      CHECK(prof.kernel.rfind(l.kernel, 0) == 0);
      CHECK((prof.kernel.find(" pairs") != std::string::npos) == l.pairs);
    }
  }
  // Lines naming what does not exist are dropped and their layers timed again.
  for (const char* bad :
       {"sparse rule 0 isa=avx9", "sparse rule 0 chunk=12", "sparse rule 0 chunk=999999999",
        "dense rule 0 chunk=4096", "sparse rule 0 chunk=4096x", "sparse rule 0 fast",
        "dense rule 0 rows=1", "sparse rule 0 rows=2", "sparse rule 0 kblock=16",
        "dense rule 0 kblock=0", "dense rule 0 kblock=99999999", "dense rule 0 kblock=16x",
        "sparse rule 0 direct", "dense rule 0 directly", "sparse panel 0"}) {
    INFO(bad);
    test::write_bytes(o.tune_cache, tuned);
    force_cache_choice(o.tune_cache, bad);
    const NetRun p = run_net(c.model, c.in, Case::kBatch, o);
    CHECK(p.stats.timed == convs);
    CHECK(test::read_bytes(o.tune_cache).find(bad) == std::string::npos);
  }
}

TEST_CASE("the GEMM's K blocks give the same bits as one pass over K") {
  test::TempDir dir;
  const Case c(0.9);  // dense layers
  runtime::NetOptions o;
  o.policy = runtime::KernelPolicy::kDense;
  o.tune = true;
  o.tune_cache = dir.file("cache.txt");
  REQUIRE(run_net(c.model, c.in, Case::kBatch, o).stats.timed >= 1);
  const std::string tuned = test::read_bytes(o.tune_cache);
  std::vector<std::vector<float>> outs;
  int blocked = 0;
  for (const char* choice : {"dense rule 0", "dense rule 0 kblock=1", "dense blocks 4096 kblock=5",
                             "dense shared 0 kblock=16"}) {
    INFO(choice);
    test::write_bytes(o.tune_cache, tuned);
    force_cache_choice(o.tune_cache, choice);
    const NetRun p = run_net(c.model, c.in, Case::kBatch, o);
    CHECK(p.stats.timed == 0);
    for (const runtime::LayerProfile& prof : p.profile)
      blocked += prof.kernel.find(" kc=") != std::string::npos;
    outs.push_back(p.out);
  }
  CHECK(blocked > 0);  // the blocks were applied
  for (size_t i = 1; i < outs.size(); ++i) CHECK(outs[i] == outs[0]);
  CHECK(test::max_rel_diff(outs[0], c.want) < 1e-5);
}

TEST_CASE("the SpMM's K chunk changes where sums are rounded, within rounding of the reference") {
  test::TempDir dir;
  const Case c(0.33);
  runtime::NetOptions o;
  o.tune = true;
  o.tune_cache = dir.file("cache.txt");
  REQUIRE(run_net(c.model, c.in, Case::kBatch, o).stats.timed >= 1);
  const std::string tuned = test::read_bytes(o.tune_cache);
  std::vector<std::vector<float>> outs;
  // The portable kernel's two accumulator sets (even and odd non-zeros) meet at each chunk's
  // end, so the chunk moves roundings there (one set, as AVX2's, sums in the same order).
  for (const char* chunk : {"1024", "4194304"}) {  // 16 rows a chunk; one chunk a layer
    test::write_bytes(o.tune_cache, tuned);
    force_cache_choice(o.tune_cache, std::string("sparse rule 0 isa=generic chunk=") + chunk);
    const NetRun p = run_net(c.model, c.in, Case::kBatch, o);
    CHECK(p.stats.timed == 0);
    CHECK(test::max_rel_diff(p.out, c.want) < 1e-5);
    outs.push_back(p.out);
  }
  CHECK(outs[0] != outs[1]);  // the chunk was applied: the sums split differently
}

TEST_CASE("a kernel by ISA: what the CPU runs and SQZ_ISA allows, else none") {
  const kernels::Isa allowed = kernels::machine().isa;
  for (kernels::Isa isa : {kernels::Isa::kGeneric, kernels::Isa::kAvx2, kernels::Isa::kAvx512}) {
    INFO(kernels::isa_name(isa));
    const kernels::SpmmKernel* spmm = kernels::spmm_kernel_for(isa);
    const kernels::GemmKernel* gemm = kernels::gemm_kernel_for(isa);
    const bool runs = static_cast<int>(isa) <= static_cast<int>(allowed);
    CHECK((spmm != nullptr) == runs);
    CHECK((gemm != nullptr) == runs);
    if (spmm) CHECK(spmm->isa == isa);
    if (gemm) CHECK(gemm->isa == isa);
  }
  CHECK(kernels::spmm_kernel_for(allowed) == &kernels::best_spmm_kernel());
  CHECK(kernels::gemm_kernel_for(allowed) == &kernels::best_gemm_kernel());
}
