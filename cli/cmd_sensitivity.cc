// Per-layer pruning sensitivity (Han et al. 2015, Sec. 4 / Fig. 6): each layer alone is
// pruned to a range of densities while the others stay untouched.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <sstream>

#include "commands.h"
#include "common.h"
#include "model_options.h"
#include "output.h"
#include "progress.h"
#include "sqz/core/file_io.h"
#include "sqz/pipeline/sensitivity.h"
#include "sqz/report/sensitivity.h"

namespace sqz::cli {

namespace {

// Densities in (0, 1], comma-separated.
Result<std::vector<double>> parse_densities(const std::string& list) {
  std::vector<double> densities;
  for (std::stringstream ss(list); ss.good();) {
    std::string item;
    std::getline(ss, item, ',');
    char* end = nullptr;
    const double d = std::strtod(item.c_str(), &end);
    if (item.empty() || *end || !(d > 0 && d <= 1))
      return Status(ErrorCode::kInvalidArgument,
                    "--densities wants values in (0, 1], got '" + item + "'");
    densities.push_back(d);
  }
  return densities;
}

// The three outputs in out_dir (made if missing), each checked before the sweep (which takes
// minutes), and again as they are written.
Result<std::vector<std::string>> output_files(const std::string& out_dir, bool force) {
  std::error_code ec;
  if (!std::filesystem::is_directory(out_dir, ec) &&
      !std::filesystem::create_directories(out_dir, ec))
    return Status(ErrorCode::kIo, out_dir + ": cannot create the folder");
  std::vector<std::string> outs = {out_dir + "/sensitivity.csv", out_dir + "/sensitivity.json",
                                   out_dir + "/sensitivity.svg"};
  for (const std::string& o : outs) SQZ_RETURN_IF_ERROR(check_output_path(o, force));
  return outs;
}

// The agreement table, the proposal as a prune command, and the files written.
void print_sweep(const Model& model, const pipeline::Sensitivity& sweep,
                 const std::vector<double>& densities,
                 const std::map<std::string, double>& proposal, double target,
                 const std::vector<std::string>& outs, int64_t images) {
  const pipeline::Accuracy& base = sweep.baseline;
  std::printf("baseline on %zu images: top-1 %.1f%%, top-5 %.1f%%\n", static_cast<size_t>(images),
              100 * base.top1, 100 * base.top5);
  std::printf("%-22s", "layer \\ density");
  for (double d : densities) std::printf(" %6.2f", d);
  std::printf("  proposed\n");
  for (const Layer& l : model.layers) {
    if (l.op != OpKind::kConvolution) continue;
    std::printf("%-22s", printable(l.name).c_str());
    for (const pipeline::SensitivityPoint& p : sweep.points)
      if (p.layer == l.name) std::printf(" %6.1f", 100 * p.acc.agreement);
    std::printf("  %6.2f\n", proposal.at(l.name));
  }
  std::printf("\nfor total density %.2f: squeeze-compress prune MODEL --density 1", target);
  for (const auto& [name, d] : proposal)
    std::printf(" --layer-density %s=%g", printable(name).c_str(), d);
  std::printf(" -o OUT\nwrote %s, %s, %s\n", printable(outs[0]).c_str(), printable(outs[1]).c_str(),
              printable(outs[2]).c_str());
}

struct SensitivityFlags {
  std::string model_path, prototxt, dir, out_dir, labels_path, label_file,
      density_list = "0.9,0.8,0.7,0.6,0.5,0.4,0.3,0.2,0.1";
  int limit = 100, threads = 1;
  double target = 0.25;
  bool force = false;
  PreprocessFlags pre_flags;
  std::string input_shape;
};

po::options_description sensitivity_options(SensitivityFlags* f, GlobalFlags* flags) {
  po::options_description options("options");
  add_global_options(options, flags);
  options.add_options()("model", po::value(&f->model_path)->required(), "model file")(
      "prototxt", po::value(&f->prototxt), "Caffe network definition for a .caffemodel or .net")(
      "images", po::value(&f->dir)->required(), "folder of images (flat or class sub-folders)")(
      "label-file", po::value(&f->label_file),
      "lines 'relative/path<TAB>class' (index or class id)")(
      "labels", po::value(&f->labels_path),
      "class list for top-1/top-5 (default: synsets.txt beside the folder, if present)")(
      "limit", ranged(&f->limit, 0, kMaxImages, "limit")->default_value(100),
      "use the first N images (0: all)")(
      "densities", po::value(&f->density_list)->default_value(f->density_list),
      "comma-separated densities")("target-density",
                                   ranged(&f->target, 0, 1, "target-density")->default_value(0.25),
                                   "total density to propose per-layer densities for")(
      "threads", thread_count(&f->threads)->default_value(1), "worker threads")(
      "output,o", po::value(&f->out_dir)->required(), "folder for sensitivity.csv, .json, .svg")(
      "force,f", po::bool_switch(&f->force),
      "overwrite existing outputs; use the preprocessing options even where the model records "
      "another");
  add_input_shape_option(options, &f->input_shape);
  add_preprocess_options(options, &f->pre_flags);
  return options;
}

// The labelled images the sweep scores, preprocessed by pre; a note on how their labels were
// fitted to the model's classes in *fit_note.
Result<pipeline::ImageSet> sensitivity_images(const SensitivityFlags& f, const Model& model,
                                              const image::Preprocess& pre, bool guessed,
                                              const GlobalFlags& flags, std::string* fit_note) {
  SQZ_ASSIGN_OR_RETURN(
      pipeline::LabelledFiles list,
      pipeline::list_dataset({f.dir, f.labels_path, f.label_file, guessed}, false));
  auto classes = pipeline::class_count(model);
  if (!classes.is_ok()) return classes.status().with_context(f.model_path);
  SQZ_RETURN_IF_ERROR(pipeline::fit_labels(&list, *classes, f.model_path, fit_note));
  pipeline::keep_first(&list, f.limit);
  ConsoleObserver loading(flags.quiet, flags.verbose);
  return pipeline::load_images(list, pre, &loading, /*skip_bad_images=*/false, f.threads);
}

}  // namespace

int cmd_sensitivity(int argc, char** argv) {
  GlobalFlags flags;
  SensitivityFlags f;
  po::options_description options = sensitivity_options(&f, &flags);
  po::variables_map vm;
  int code;
  if (!parse_args("sensitivity", "MODEL --images DIR -o OUT_DIR", options, {"model"}, argc, argv,
                  &vm, &code))
    return code;
  auto densities = parse_densities(f.density_list);
  if (!densities.is_ok()) return usage_error("sensitivity", densities.status().message());
  if (!(f.target > 0 && f.target <= 1))
    return usage_error("sensitivity", "--target-density must be in (0, 1]");
  if (auto spec = preprocess_spec(f.pre_flags); !spec.is_ok())
    return usage_error("sensitivity", spec.status().message());
  auto outs = output_files(f.out_dir, f.force);
  if (!outs.is_ok()) return fail(outs.status());
  const bool guessed = f.labels_path.empty();
  if (guessed) f.labels_path = pipeline::default_class_list(f.dir);
  const auto started = std::chrono::steady_clock::now();
  format::Metadata metadata;
  auto import = import_options(f.input_shape);
  if (!import.is_ok()) return usage_error("sensitivity", import.status().message());
  Result<Model> model = load_any_model(f.model_path, f.prototxt, &metadata, *import);
  if (!model.is_ok()) return fail(model.status());
  auto shapes = validate_and_infer(*model);
  if (!shapes.is_ok()) return fail(shapes.status().with_context(f.model_path));
  const Shape& in = shapes->at(model->input);
  std::string notice, fit_note;
  auto pre = model_preprocess(f.model_path, {in[1], in[2], in[3]}, metadata, f.pre_flags, f.force,
                              &notice);
  if (!pre.is_ok()) return preprocess_error("sensitivity", pre.status());
  auto images = sensitivity_images(f, *model, *pre, guessed, flags, &fit_note);
  if (!images.is_ok()) return fail(images.status());
  ConsoleObserver observer(flags.quiet, flags.verbose);
  auto sweep = pipeline::sensitivity_sweep(*model, *images, *densities, f.threads, &observer);
  if (!sweep.is_ok()) return fail(sweep.status());
  const std::vector<pipeline::SensitivityPoint>& points = sweep->points;
  const auto proposal = pipeline::propose_densities(points, *model, f.target);
  const std::string files[] = {
      report::sensitivity_csv(points),
      report::sensitivity_json(points, sweep->baseline, proposal, f.target),
      report::sensitivity_svg(*model, *sweep, static_cast<int64_t>(images->inputs.size()))};
  if (Status s = write_files_together(
          {{(*outs)[0], files[0]}, {(*outs)[1], files[1]}, {(*outs)[2], files[2]}}, f.force);
      !s.is_ok())
    return fail(s);
  print_notice(notice, flags.quiet);
  print_notice(fit_note, flags.quiet);
  if (flags.json) {
    std::printf("%s", files[1].c_str());
    return kExitOk;
  }
  print_sweep(*model, *sweep, *densities, proposal, f.target, *outs,
              static_cast<int64_t>(images->inputs.size()));
  std::printf("%lld pruned variants x %zu images in %.1f s\n", (long long)sweep->points.size(),
              images->inputs.size(),
              std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  return kExitOk;
}

}  // namespace sqz::cli
