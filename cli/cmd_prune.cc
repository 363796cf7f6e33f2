#include <cstdio>

#include "commands.h"
#include "common.h"
#include "model_options.h"
#include "output.h"
#include "sqz/pipeline/retrain_command.h"
#include "sqz/prune/prune.h"

namespace sqz::cli {

using pipeline::CommandRetrainHook;
namespace {

void print_reports(const std::vector<prune::StepReport>& steps, double before, double after,
                   bool json) {
  const auto& last = steps.back().layers;
  int64_t reset = 0;
  for (const auto& s : steps) reset += s.mask_violations_reset;
  if (json) {
    std::printf(
        "{\"density_before\": %.6f, \"density_after\": %.6f, \"mask_violations_reset\": %lld, "
        "\"layers\": [",
        before, after, (long long)reset);
    for (size_t i = 0; i < last.size(); ++i)
      std::printf("%s\n {\"layer\": %s, \"weights\": %lld, \"kept\": %lld, \"threshold\": %.6g}",
                  i ? "," : "", json_quote(last[i].name).c_str(), (long long)last[i].weights,
                  (long long)last[i].kept_after, last[i].threshold);
    std::printf("\n]}\n");
    return;
  }
  std::printf("%-22s %9s %9s %8s %11s\n", "layer", "weights", "kept", "density", "threshold");
  for (const auto& r : last)
    std::printf("%-22s %9lld %9lld %7.1f%% %11.4g\n", printable(r.name).c_str(),
                (long long)r.weights, (long long)r.kept_after, 100.0 * r.kept_after / r.weights,
                r.threshold);
  std::printf("\ntotal density %.2f%% -> %.2f%% in %zu step(s)", 100 * before, 100 * after,
              steps.size());
  if (reset)
    std::printf("; %lld retrained weights at pruned positions were reset to 0", (long long)reset);
  std::printf("\n");
}

// The pruning flags, as given.
struct PruneFlags {
  double density = 0, quality = -1, global = 0;
  int steps = 1;
  std::string schedule = "cubic", granularity;
  std::vector<std::string> layer_density;
};

// The pruning options the flags describe (exactly one criterion).
Result<prune::PruneOptions> prune_options(const po::variables_map& vm, const PruneFlags& f) {
  const int chosen =
      static_cast<int>(vm.count("density") + vm.count("quality") + vm.count("global-density"));
  if (chosen != 1)
    return Status(ErrorCode::kInvalidArgument,
                  "give exactly one of --density, --quality, --global-density");
  if (f.schedule != "cubic" && f.schedule != "linear")
    return Status(ErrorCode::kInvalidArgument, "--schedule must be cubic or linear");
  auto unit = parse_granularity(f.granularity);
  if (!unit.is_ok()) return unit.status();
  prune::PruneOptions o;
  o.granularity = *unit;
  o.criterion = vm.count("quality")          ? prune::Criterion::kQuality
                : vm.count("global-density") ? prune::Criterion::kGlobalDensity
                                             : prune::Criterion::kDensity;
  o.density = vm.count("global-density") ? f.global : f.density;
  o.quality = f.quality;
  o.steps = f.steps;
  o.schedule = f.schedule == "linear" ? prune::Schedule::kLinear : prune::Schedule::kCubic;
  auto overrides = parse_name_values(f.layer_density, "--layer-density", 0, 1);
  if (!overrides.is_ok()) return overrides.status();
  o.layer_density = *overrides;
  return o;
}

}  // namespace

namespace {

// What the command line gives beside the pruning options themselves (PruneFlags).
struct PruneCommandFlags {
  std::string model_path, prototxt, out, retrain_cmd, input_shape;
  PruneFlags prune;
  bool force = false;
  PreprocessFlags preprocess;
};

po::options_description prune_command_options(PruneCommandFlags* f, GlobalFlags* flags) {
  PruneFlags& pf = f->prune;
  po::options_description options("options");
  add_global_options(options, flags, RunsNetworks::kNo);
  options.add_options()("model", po::value(&f->model_path)->required(), "model file")(
      "prototxt", po::value(&f->prototxt), "Caffe network definition for a .caffemodel or .net")(
      "density", ranged(&pf.density, 0, 1, "density"),
      "keep this fraction of each layer's weights, (0, 1]")(
      "quality", ranged(&pf.quality, 0, 1e3, "quality"),
      "drop |w| < Q x std(w) in each layer (Han et al. 2015)")(
      "global-density", ranged(&pf.global, 0, 1, "global-density"),
      "one magnitude threshold across layers, (0, 1]")(
      "layer-density", po::value(&pf.layer_density)->composing(),
      "NAME=D for one layer (repeatable)")(
      "steps", ranged(&pf.steps, 1, 1e4, "steps")->default_value(1), "prune in this many steps")(
      "schedule", po::value(&pf.schedule)->default_value("cubic"), "cubic | linear")(
      "granularity", po::value(&pf.granularity)->default_value("weight"),
      "weight | kernel (k x k layers keep or lose whole kernels; 1x1 layers per weight)")(
      "retrain-cmd", po::value(&f->retrain_cmd),
      "run after each step: {in} model ONNX, {masks} 0/1 ONNX, {out} retrained ONNX, {step}")(
      "output,o", po::value(&f->out)->required(), "output .sqz, .onnx or .caffemodel")(
      "force,f", po::bool_switch(&f->force), "overwrite an existing output");
  add_input_shape_option(options, &f->input_shape);
  add_preprocess_options(options, &f->preprocess, false);
  add_record_option(options, &f->preprocess);
  return options;
}

}  // namespace

int cmd_prune(int argc, char** argv) {
  GlobalFlags flags;
  PruneCommandFlags f;
  po::options_description options = prune_command_options(&f, &flags);
  po::variables_map vm;
  int code;
  if (!parse_args("prune", "MODEL (--density D | --quality Q | --global-density D) -o OUT", options,
                  {"model"}, argc, argv, &vm, &code))
    return code;
  auto options_made = prune_options(vm, f.prune);
  if (!options_made.is_ok()) return usage_error("prune", options_made.status().message());
  const prune::PruneOptions& o = *options_made;
  if (Status s = prune::check_option_dependencies(o, given_names(vm)); !s.is_ok())
    return usage_error("prune", s.message());
  if (auto spec = preprocess_spec(f.preprocess); !spec.is_ok())
    return usage_error("prune", spec.status().message());
  if (Status s = check_output_path(f.out, f.force); !s.is_ok()) return fail(s);
  format::Metadata input_metadata;
  auto import = import_options(f.input_shape);
  if (!import.is_ok()) return usage_error("prune", import.status().message());
  Result<Model> model = load_any_model(f.model_path, f.prototxt, &input_metadata, *import);
  if (!model.is_ok()) return fail(model.status());
  if (Status s = prune::check_options(*model, o); !s.is_ok())
    return fail(s.with_context(f.model_path));
  std::string pipeline = "prune";
  for (int i = 1; i < argc; ++i) pipeline += std::string(" ") + argv[i];
  std::string record_notice;
  auto metadata = output_metadata(f.model_path, *model, input_metadata, f.preprocess, pipeline,
                                  &record_notice);
  if (!metadata.is_ok()) return preprocess_error("prune", metadata.status());
  const double before = prune::total_density(*model);
  std::unique_ptr<CommandRetrainHook> hook;
  if (!f.retrain_cmd.empty())
    hook = std::make_unique<CommandRetrainHook>(f.retrain_cmd, flags.verbose, *metadata);
  auto reports = prune::prune_iteratively(*model, o, hook.get());
  if (!reports.is_ok()) return fail(reports.status());
  if (Status s = write_model_file(*model, f.out, f.force, *metadata); !s.is_ok()) return fail(s);
  print_reports(*reports, before, prune::total_density(*model), flags.json);
  if (!flags.json && !flags.quiet) std::printf("wrote %s\n", printable(f.out).c_str());
  print_notice(record_notice, flags.quiet);
  return kExitOk;
}

}  // namespace sqz::cli
