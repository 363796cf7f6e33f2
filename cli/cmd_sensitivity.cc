// Per-layer pruning sensitivity (Han et al. 2015, Sec. 4 / Fig. 6): each layer alone is
// pruned to a range of densities while the others stay untouched.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "commands.h"
#include "common.h"
#include "evaluate.h"
#include "progress.h"
#include "sqz/core/file_io.h"
#include "sqz/prune/prune.h"
#include "svg.h"

namespace sqz::cli {
namespace {

struct Point {
  std::string layer;
  double density;
  int64_t kept, weights;
  Accuracy acc;
};

// Smallest density per layer whose agreement is at least `floor` (1.0 if none).
std::map<std::string, double> densities_at(const std::vector<Point>& pts, double floor) {
  std::map<std::string, double> best;
  for (const Point& p : pts) {
    double& d = best.try_emplace(p.layer, 1.0).first->second;
    if (p.acc.agreement >= floor) d = std::min(d, p.density);
  }
  return best;
}

// The highest agreement floor whose densities reach the target total density.
std::map<std::string, double> propose(const std::vector<Point>& pts, const Model& m,
                                      double target) {
  std::map<std::string, int64_t> weights;
  int64_t total = 0;
  for (const Layer& l : m.layers)
    if (l.op == OpKind::kConvolution) weights[l.name] = l.weight.numel(), total += l.weight.numel();
  std::map<std::string, double> chosen = densities_at(pts, 0.0);
  for (double floor = 1.0; floor >= 0.0; floor -= 0.005) {
    auto d = densities_at(pts, floor);
    double kept = 0;
    for (const auto& [name, dens] : d) kept += dens * weights[name];
    if (kept <= target * total) {
      chosen = d;
      break;
    }
  }
  return chosen;
}

std::string csv(const std::vector<Point>& pts) {
  std::ostringstream out;
  out << "layer,density,kept,weights,agreement,top1,top5,mean_kl\n";
  for (const Point& p : pts)
    out << p.layer << "," << p.density << "," << p.kept << "," << p.weights << ","
        << p.acc.agreement << "," << p.acc.top1 << "," << p.acc.top5 << "," << p.acc.mean_kl
        << "\n";
  return out.str();
}

std::string json(const std::vector<Point>& pts, const Accuracy& base,
                 const std::map<std::string, double>& proposal, double target) {
  std::ostringstream out;
  out << "{\"baseline\": {\"top1\": " << base.top1 << ", \"top5\": " << base.top5
      << ", \"images\": " << base.images << "},\n \"points\": [";
  for (size_t i = 0; i < pts.size(); ++i)
    out << (i ? "," : "") << "\n  {\"layer\": " << json_quote(pts[i].layer)
        << ", \"density\": " << pts[i].density << ", \"kept\": " << pts[i].kept
        << ", \"agreement\": " << pts[i].acc.agreement << ", \"top1\": " << pts[i].acc.top1
        << ", \"top5\": " << pts[i].acc.top5 << "}";
  out << "],\n \"target_density\": " << target << ",\n \"proposed_densities\": {";
  size_t k = 0;
  for (const auto& [name, d] : proposal) out << (k++ ? ", " : "") << json_quote(name) << ": " << d;
  out << "}}\n";
  return out.str();
}

}  // namespace

int cmd_sensitivity(int argc, char** argv) {
  GlobalFlags flags;
  std::string model_path, prototxt, dir, out_dir, labels_path,
      density_list = "0.9,0.8,0.7,0.6,0.5,0.4,0.3,0.2,0.1";
  int limit = 100, threads = 1;
  double target = 0.25;
  bool force = false;
  po::options_description options("options");
  add_global_options(options, &flags);
  options.add_options()("model", po::value(&model_path)->required(), "model file")(
      "prototxt", po::value(&prototxt), "Caffe network definition for a .caffemodel or .net")(
      "images", po::value(&dir)->required(), "folder of images")(
      "labels", po::value(&labels_path),
      "class list for top-1/top-5 (default: synsets.txt beside the folder, if present)")(
      "limit", po::value(&limit)->default_value(100), "use the first N images (0: all)")(
      "densities", po::value(&density_list)->default_value(density_list),
      "comma-separated densities")("target-density", po::value(&target)->default_value(0.25),
                                   "total density to propose per-layer densities for")(
      "threads", po::value(&threads)->default_value(1), "worker threads")(
      "output,o", po::value(&out_dir)->required(), "folder for sensitivity.csv, .json, .svg")(
      "force,f", po::bool_switch(&force), "overwrite existing outputs");
  po::variables_map vm;
  int code;
  if (!parse_args("sensitivity", "MODEL --images DIR -o OUT_DIR", options, {"model"}, argc, argv,
                  &vm, &code))
    return code;
  std::vector<double> densities;
  for (std::stringstream ss(density_list); ss.good();) {
    std::string item;
    std::getline(ss, item, ',');
    char* end = nullptr;
    const double d = std::strtod(item.c_str(), &end);
    if (item.empty() || *end || !(d > 0 && d <= 1))
      return usage_error("sensitivity", "--densities wants values in (0, 1], got '" + item + "'");
    densities.push_back(d);
  }
  if (!(target > 0 && target <= 1))
    return usage_error("sensitivity", "--target-density must be in (0, 1]");
  if (threads < 1) return usage_error("sensitivity", "--threads must be at least 1");
  std::error_code ec;
  if (!std::filesystem::is_directory(out_dir, ec) &&
      !std::filesystem::create_directories(out_dir, ec))
    return fail(Status(ErrorCode::kIo, out_dir + ": cannot create the folder"));
  const std::vector<std::string> outs = {
      out_dir + "/sensitivity.csv", out_dir + "/sensitivity.json", out_dir + "/sensitivity.svg"};
  for (const std::string& o : outs)
    if (Status s = write_file_atomic(o + ".probe", "", true); !s.is_ok()) return fail(s);
  for (const std::string& o : outs) std::filesystem::remove(o + ".probe", ec);
  if (!force)
    for (const std::string& o : outs)
      if (std::filesystem::exists(o))
        return fail(
            Status(ErrorCode::kInvalidArgument, o + ": already exists (use --force to overwrite)"));
  if (labels_path.empty()) {
    const auto guess = std::filesystem::path(dir).parent_path() / "synsets.txt";
    if (std::filesystem::exists(guess)) labels_path = guess.string();
  }
  const auto started = std::chrono::steady_clock::now();
  Result<Model> model = load_any_model(model_path, prototxt);
  if (!model.is_ok()) return fail(model.status());
  auto shapes = validate_and_infer(*model);
  if (!shapes.is_ok()) return fail(shapes.status().with_context(model_path));
  const Shape& in = shapes->at(model->input);
  auto images = load_image_set(dir, labels_path, limit, {in[1], in[2], in[3]}, flags.quiet);
  if (!images.is_ok()) return fail(images.status());
  auto base_scores = score_images(*model, *images, threads, "baseline", flags.quiet);
  if (!base_scores.is_ok()) return fail(base_scores.status());
  const Accuracy base = measure_accuracy(*base_scores, *images, nullptr);

  std::vector<Point> points;
  int64_t runs = 0, total_runs = 0;
  for (const Layer& l : model->layers)
    total_runs += l.op == OpKind::kConvolution ? static_cast<int64_t>(densities.size()) : 0;
  Progress progress("sensitivity", total_runs, !flags.quiet);
  for (const Layer& l : model->layers) {
    if (l.op != OpKind::kConvolution) continue;
    for (double d : densities) {
      Model trial = *model;
      Layer* t = trial.find_layer(l.name);
      const int64_t current = l.mask.empty() ? l.weight.count_nonzero() : l.stored_count();
      prune::prune_layer_to_count(*t,
                                  std::min<int64_t>(std::llround(d * l.weight.numel()), current));
      auto scores = score_images(trial, *images, threads, "", true);
      if (!scores.is_ok()) return fail(scores.status());
      points.push_back({l.name, d, t->stored_count(), t->weight.numel(),
                        measure_accuracy(*scores, *images, &*base_scores)});
      progress.update(++runs);
    }
  }
  progress.finish();
  const auto proposal = propose(points, *model, target);
  std::vector<Series> series;
  for (const Layer& l : model->layers) {
    if (l.op != OpKind::kConvolution) continue;
    Series s{l.name, {1.0}, {100.0}, false, false};
    for (const Point& p : points)
      if (p.layer == l.name) s.x.push_back(p.density), s.y.push_back(100 * p.acc.agreement);
    series.push_back(s);
  }
  ChartOptions chart{"Pruning sensitivity: one layer pruned at a time (" +
                         std::to_string(images->inputs.size()) + " images)",
                     "density of the pruned layer",
                     "top-1 agreement with the unpruned model (%)",
                     900,
                     std::max(460, 60 + 15 * static_cast<int>(series.size())),
                     true};
  const std::string files[] = {csv(points), json(points, base, proposal, target),
                               line_chart_svg(series, chart)};
  for (size_t i = 0; i < 3; ++i)
    if (Status s = write_file_atomic(outs[i], files[i], true); !s.is_ok()) return fail(s);
  if (flags.json) {
    std::printf("%s", files[1].c_str());
    return kExitOk;
  }
  std::printf("baseline on %zu images: top-1 %.1f%%, top-5 %.1f%%\n", images->inputs.size(),
              100 * base.top1, 100 * base.top5);
  std::printf("%-22s", "layer \\ density");
  for (double d : densities) std::printf(" %6.2f", d);
  std::printf("  proposed\n");
  for (const auto& s : series) {
    std::printf("%-22s", s.label.c_str());
    for (size_t i = 1; i < s.y.size(); ++i) std::printf(" %6.1f", s.y[i]);
    std::printf("  %6.2f\n", proposal.at(s.label));
  }
  std::printf("\nfor total density %.2f: squeeze-compress prune MODEL --density 1", target);
  for (const auto& [name, d] : proposal) std::printf(" --layer-density %s=%g", name.c_str(), d);
  std::printf(" -o OUT\nwrote %s, %s, %s\n", outs[0].c_str(), outs[1].c_str(), outs[2].c_str());
  std::printf("%lld pruned variants x %zu images in %.1f s\n", (long long)runs,
              images->inputs.size(),
              std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  return kExitOk;
}

}  // namespace sqz::cli
