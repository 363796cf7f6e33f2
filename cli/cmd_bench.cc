// Latency of the runtime on a model: per-layer kernel, time and GFLOP/s, median over runs after
// warm-up, resident weight bytes and peak memory (ncnn's benchncnn, XNNPACK's reporting).
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>

#include "commands.h"
#include "common.h"
#include "sqz/kernels/machine.h"
#include "sqz/runtime/net.h"
#include "sqz/runtime/thread_pool.h"

namespace sqz::cli {
namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

long peak_rss_kib() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

// The machine description, the kernel rule and what planning cost (bench -v).
void print_plan(const runtime::Net& net, const runtime::NetOptions& opts) {
  std::fputs(kernels::describe_machine(kernels::machine()).c_str(), stdout);
  if (opts.policy == runtime::KernelPolicy::kAuto)
    std::printf("rule: the sparse kernel for layers at most %g%% dense, dense kernels above\n",
                100 * opts.sparse_max_density);
  std::printf("passes: %lld image(s) at a time (%s)%s\n",
              static_cast<long long>(net.images_per_pass()),
              opts.images_per_pass > 0 ? "set" : "as many as the threads' L2 holds",
              opts.image_streams && net.threads() > 1
                  ? "; a batch of 2 or more in image streams, a thread's own images each"
                  : "");
  const runtime::PlanStats& st = net.plan_stats();
  std::printf("plan: %.1f ms; %d convolutions timed, %d from the cache%s%s%s%s\n\n",
              1e3 * st.seconds, st.timed, st.cached, st.cache_path.empty() ? "" : " (",
              printable(st.cache_path).c_str(), st.cache_path.empty() ? "" : ")",
              st.note.empty() ? "" : ("; " + printable(st.note)).c_str());
}

// What a benchmark ran: the model, its threads and batch, the timed and warm-up runs.
struct BenchSettings {
  std::string model_path;
  int threads = 1, batch = 1, runs = 30, warmup = 3;
};

// The machine a figure was measured on (the text form prints it under -v), as JSON.
std::string machine_json(const kernels::Machine& m) {
  std::string out;
  for (const kernels::MachineFact& f : kernels::machine_facts(m))
    out += (out.empty() ? "{" : ", ") + json_quote(f.name) + ": " +
           (f.is_number ? std::to_string(f.number) : json_quote(f.text));
  return out + "}";
}

void print_bench_json(const runtime::Net& net, const BenchSettings& b,
                      const std::vector<double>& ms) {
  const auto profile = net.profile();
  const runtime::PlanStats& plan = net.plan_stats();
  const double med = median(ms);
  std::printf(
      "{\"model\": %s, \"threads\": %d, \"usable_cpus\": %d, \"batch\": %d, \"runs\": %d, "
      "\"median_ms\": %.4f, "
      "\"min_ms\": %.4f, \"weight_bytes\": %lld, \"peak_rss_kib\": %ld, \"plan_ms\": %.1f, "
      "\"convolutions_timed\": %d, \"convolutions_from_cache\": %d, \"images_per_pass\": %lld,"
      "\n \"machine\": %s,\n \"layers\": [",
      json_quote(b.model_path).c_str(), b.threads, runtime::usable_cpus(), b.batch, b.runs, med,
      *std::min_element(ms.begin(), ms.end()), (long long)net.weight_bytes(), peak_rss_kib(),
      1e3 * plan.seconds, plan.timed, plan.cached, static_cast<long long>(net.images_per_pass()),
      machine_json(kernels::machine()).c_str());
  bool first = true;
  for (const auto& p : profile) {
    if (p.kernel == "alias") continue;
    std::printf("%s\n {\"layer\": %s, \"kernel\": %s, \"ms\": %.4f, \"density\": %.4f}",
                first ? "" : ",", json_quote(p.name).c_str(), json_quote(p.kernel).c_str(),
                1e3 * p.seconds / b.runs, p.density);
    first = false;
  }
  std::printf("\n]}\n");
}

void print_bench_text(const runtime::Net& net, const BenchSettings& b,
                      const std::vector<double>& ms, bool verbose) {
  double flops = 0, nnz_flops = 0;
  const auto profile = net.profile();
  for (const auto& p : profile) flops += p.flops, nnz_flops += p.nnz_flops;
  const double med = median(ms);
  std::printf("%-28s %-44s %7s %8s %9s %9s%s\n", "layer", "kernel", "density", "ms", "GFLOP/s",
              "nnz GF/s", verbose ? "  plan" : "");
  for (const auto& p : profile) {
    if (p.kernel == "alias") continue;
    const double layer_ms = 1e3 * p.seconds / b.runs;
    auto rate = [&](double f) {
      return f > 0 && layer_ms > 0 ? b.batch * f / (layer_ms * 1e6) : 0.0;
    };
    std::printf("%-28s %-44s %6.1f%% %8.3f %9.1f %9.1f%s\n", printable(p.name).c_str(),
                p.kernel.c_str(), 100 * p.density, layer_ms, rate(p.flops), rate(p.nnz_flops),
                verbose && !p.plan.empty() ? ("  " + p.plan).c_str() : "");
  }
  const int cpus = runtime::usable_cpus();
  std::printf("\n%s: threads %d%s, batch %d, %d runs after %d warm-up\n",
              printable(b.model_path).c_str(), b.threads,
              b.threads > cpus
                  ? (" (more than the " + std::to_string(cpus) + (cpus == 1 ? " CPU" : " CPUs") +
                     " this process may use: threads wait their turn)")
                        .c_str()
                  : "",
              b.batch, b.runs, b.warmup);
  std::printf("weights resident %.3f MB; peak RSS %.1f MB\n", net.weight_bytes() / 1e6,
              peak_rss_kib() / 1024.0);
  std::printf("dense-equivalent %.2f GFLOP/image, on stored weights %.2f GFLOP/image\n",
              flops / 1e9, nnz_flops / 1e9);
  std::printf("min %.2f ms  max %.2f ms\nmedian %.2f ms\n", *std::min_element(ms.begin(), ms.end()),
              *std::max_element(ms.begin(), ms.end()), med);
}

Result<runtime::KernelPolicy> parse_policy(const std::string& kernels) {
  if (kernels == "auto") return runtime::KernelPolicy::kAuto;
  if (kernels == "dense") return runtime::KernelPolicy::kDense;
  if (kernels == "sparse") return runtime::KernelPolicy::kSparse;
  if (kernels == "reference") return runtime::KernelPolicy::kReference;
  return Status(ErrorCode::kInvalidArgument, "--kernels must be auto, dense, sparse or reference");
}

// The net of a model file, planned; the model itself is freed before any timing.
Result<std::unique_ptr<runtime::Net>> load_net(const std::string& model_path,
                                               const std::string& prototxt,
                                               const runtime::NetOptions& opts) {
  import::ImportOptions codes_only;  // a .sqz's codes go straight to the net
  codes_only.sqz_codes_only = true;
  SQZ_ASSIGN_OR_RETURN(Model model, load_any_model(model_path, prototxt, nullptr, codes_only));
  auto created = runtime::Net::create(model, opts);
  if (!created.is_ok()) return created.status().with_context(model_path);
  return created;
}

// The batch's inputs and outputs, which bench allocates itself (a pass's activations are
// the net's, Net::reserve): within the same budget, checked before they are allocated.
Status check_batch_arrays(const runtime::Net& net, int64_t batch, int64_t budget) {
  const int64_t bytes = batch * (shape_numel(net.input_chw()) + net.output_size()) *
                        static_cast<int64_t>(sizeof(float));
  if (bytes <= budget) return Status::ok();
  return Status(ErrorCode::kLimit,
                "a batch of " + std::to_string(batch) + " images' inputs and outputs need " +
                    std::to_string((bytes + (1 << 20) - 1) >> 20) +
                    " MiB, more than the limit of " + std::to_string(budget >> 20) +
                    " MiB (--max-memory raises it)");
}

// Warm-up runs (at least b.warmup, and until warmup_seconds have passed: the CPU's clock
// ramps up), then b.runs timed runs on fixed random inputs, profiled; their times in *ms.
Status time_runs(runtime::Net& net, const BenchSettings& b, double warmup_seconds,
                 std::vector<double>* ms) {
  const Shape chw = net.input_chw();
  std::vector<float> in(static_cast<size_t>(b.batch * shape_numel(chw)));
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(-100, 100);
  for (float& x : in) x = u(rng);
  std::vector<float> out;
  const auto warm0 = std::chrono::steady_clock::now();
  for (int w = 0; w < b.warmup ||
                  std::chrono::duration<double>(std::chrono::steady_clock::now() - warm0).count() <
                      warmup_seconds;
       ++w)
    (void)net.forward(in.data(), b.batch, &out);  // a failing pass fails the first timed run
  net.set_profiling(true);
  for (int r = 0; r < b.runs; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    SQZ_RETURN_IF_ERROR(net.forward(in.data(), b.batch, &out));
    ms->push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  return Status::ok();
}

}  // namespace

int cmd_bench(int argc, char** argv) {
  GlobalFlags flags;
  BenchSettings b;
  std::string prototxt, kernels = "auto";
  int images_per_pass = 0;
  bool no_streams = false;
  double warmup_seconds = 0.5, sparse_max_density = runtime::NetOptions{}.sparse_max_density;
  po::options_description options("options");
  add_global_options(options, &flags);
  options.add_options()("model", po::value(&b.model_path)->required(), "model file")(
      "prototxt", po::value(&prototxt), "Caffe network definition for a .caffemodel or .net")(
      "threads", thread_count(&b.threads)->default_value(1), "worker threads")(
      "batch", ranged(&b.batch, 1, kMaxBatch, "batch")->default_value(1),
      "images per forward pass")(
      "images-per-pass",
      ranged(&images_per_pass, 0, kMaxBatch, "images-per-pass")->default_value(0),
      "images the network runs at a time (0: as many as the threads' L2 caches hold)")(
      "no-streams", po::bool_switch(&no_streams),
      "run a batch's passes one after another on all threads, not each thread its own images")(
      "runs", ranged(&b.runs, 1, 1e6, "runs")->default_value(30), "timed runs")(
      "warmup", ranged(&b.warmup, 0, 1e6, "warmup")->default_value(3), "untimed runs first")(
      "warmup-seconds", ranged(&warmup_seconds, 0, 600, "warmup-seconds")->default_value(0.5),
      "and untimed runs until this much time has passed (the CPU's clock ramps up)")(
      "kernels", po::value(&kernels)->default_value("auto"), "auto | dense | sparse | reference")(
      "sparse-max-density",
      ranged(&sparse_max_density, 0, 1, "sparse-max-density")
          ->default_value(sparse_max_density, range_text(sparse_max_density, sparse_max_density)),
      "--kernels auto: the densest layer the sparse kernel runs (the rule's line)");
  po::variables_map vm;
  int code;
  if (!parse_args("bench", "MODEL [--threads N] [--batch B] [--runs N]", options, {"model"}, argc,
                  argv, &vm, &code))
    return code;
  runtime::NetOptions opts;
  opts.threads = b.threads;
  auto policy = parse_policy(kernels);
  if (!policy.is_ok()) return usage_error("bench", policy.status().message());
  if (*policy == runtime::KernelPolicy::kReference && flags.tune)
    return usage_error("bench", "--tune times the fast kernels; --kernels reference has none");
  if (!vm["sparse-max-density"].defaulted() && *policy != runtime::KernelPolicy::kAuto)
    return usage_error("bench", "--sparse-max-density is the auto rule's line; --kernels " +
                                    kernels + " has none");
  opts.policy = *policy;
  opts.sparse_max_density = sparse_max_density;
  opts.images_per_pass = images_per_pass;
  opts.image_streams = !no_streams;
  auto net = load_net(b.model_path, prototxt, opts);
  if (!net.is_ok()) return fail(net.status());
  if (Status s = (*net)->reserve(b.batch); !s.is_ok()) return fail(s.with_context(b.model_path));
  if (Status s = check_batch_arrays(**net, b.batch, opts.max_activation_bytes); !s.is_ok())
    return fail(s.with_context(b.model_path));
  if (flags.verbose && !flags.json) print_plan(**net, opts);
  std::vector<double> ms;
  if (Status s = time_runs(**net, b, warmup_seconds, &ms); !s.is_ok()) return fail(s);
  if (flags.json)
    print_bench_json(**net, b, ms);
  else
    print_bench_text(**net, b, ms, flags.verbose);
  return kExitOk;
}

}  // namespace sqz::cli
