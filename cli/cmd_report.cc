// report: the paper-style stage table, the per-layer ledger and accuracy against size for one
// or more .sqz files, as Markdown or JSON on stdout and optionally a self-contained HTML file.
#include <cstdio>
#include <filesystem>
#include <set>

#include "commands.h"
#include "common.h"
#include "evaluate.h"
#include "image_split.h"
#include "labels.h"
#include "output.h"
#include "report.h"
#include "sqz/core/file_io.h"
#include "sqz/format/paper_layout.h"

namespace sqz::cli {
namespace {

struct Settings {
  std::vector<std::string> models;
  std::string reference, prototxt, images, labels, html, chart;
  int limit = 0, threads = 1;
  bool force = false;
};

void fill_ledger(ReportData* r) {
  const Model& m = r->file.model;
  std::map<std::string, LedgerLine> by_layer;
  for (const format::LedgerRow& row : r->file.ledger) {
    if (row.layer.empty()) {
      r->file_parts.push_back({row.part, static_cast<int64_t>(row.bytes)});
      continue;
    }
    LedgerLine& l = by_layer[row.layer];
    const auto bytes = static_cast<int64_t>(row.bytes);
    if (row.part == "layer-header") l.header += bytes;
    if (row.part == "bias") l.bias += bytes;
    if (row.part == "codebook") l.codebook += bytes;
    if (row.part == "values") l.values += bytes;
    if (row.part == "positions") l.positions += bytes, l.position_coding = row.coding;
  }
  for (const Layer& layer : m.layers) {
    if (layer.op != OpKind::kConvolution) continue;
    LedgerLine l = by_layer[layer.name];
    l.layer = layer.name;
    l.weights = layer.weight.numel();
    l.nonzeros = 0;
    for (float w : layer.weight.data) l.nonzeros += w != 0.0f;
    l.bits = layer.quant.bits;
    if (l.position_coding.empty()) l.position_coding = "none";
    r->layers.push_back(l);
  }
}

// The rows of the subset of `all` at `keep`.
ImageSet subset(const ImageSet& all, const std::vector<size_t>& keep) {
  ImageSet s;
  for (size_t i : keep) {
    s.paths.push_back(all.paths[i]);
    s.labels.push_back(all.labels[i]);
    s.inputs.push_back(all.inputs[i]);
  }
  return s;
}

Scores subset(const Scores& all, const std::vector<size_t>& keep) {
  Scores s;
  s.classes = all.classes;
  for (size_t i : keep) s.values.insert(s.values.end(), all.row(i), all.row(i) + all.classes);
  return s;
}

// Measures one model on the images it was not calibrated on.
Result<ModelPoint> measure_point(const std::string& path, const format::SqzFile& f,
                                 const ImageSet& images, const Scores* reference, int threads,
                                 bool quiet) {
  ModelPoint p;
  p.path = path;
  p.bytes = static_cast<int64_t>(f.file_bytes);
  if (images.inputs.empty()) return p;
  SQZ_ASSIGN_OR_RETURN(auto overlap, calibration_overlap(f.metadata, images.paths));
  const std::set<std::string> skip(overlap.begin(), overlap.end());
  std::vector<size_t> keep;
  for (size_t i = 0; i < images.paths.size(); ++i)
    if (!skip.count(images.paths[i])) keep.push_back(i);
  p.excluded = static_cast<int64_t>(images.paths.size() - keep.size());
  p.images = static_cast<int64_t>(keep.size());
  SQZ_RETURN_ERROR_IF(keep.empty(), ErrorCode::kInvalidArgument,
                      path +
                          ": it was calibrated on every image given; there is nothing to "
                          "measure it on");
  const ImageSet held_out = subset(images, keep);
  SQZ_ASSIGN_OR_RETURN(Scores scores,
                       score_images(f.model, held_out, threads, "measuring " + path, quiet));
  Scores ref;
  if (reference) ref = subset(*reference, keep);
  const Accuracy a = measure_accuracy(scores, held_out, reference ? &ref : nullptr);
  if (a.labelled) p.top1 = a.top1, p.top5 = a.top5;
  if (reference) {
    p.agreement = a.agreement, p.mean_kl = a.mean_kl;
    const Accuracy ra = measure_accuracy(ref, held_out, nullptr);
    if (ra.labelled) p.reference_top1 = ra.top1, p.reference_top5 = ra.top5;
  }
  return p;
}

void fill_stages(ReportData* r) {
  const Model& m = r->file.model;
  const ModelPoint* p = r->points.empty() ? nullptr : &r->points[0];
  StageRow dense{"dense float32", format::dense_float32_bytes(m), "float32 weights and biases"};
  if (p && p->reference_top1 >= 0) {
    dense.top1 = p->reference_top1, dense.top5 = p->reference_top5;
    dense.agreement = 1, dense.mean_kl = 0;
    dense.how += " (accuracy: the reference model)";
  }
  StageRow pruned{"pruned", format::relative_index_bytes(m, false),
                  "float32 values + 4-bit relative index (paper Sec. 2)"};
  StageRow quantized{"pruned + quantized", format::relative_index_bytes(m, true),
                     "codes + 4-bit relative index (paper Sec. 3); the .sqz's weights"};
  StageRow sqz{"+ Huffman (.sqz)", static_cast<int64_t>(r->file.file_bytes),
               "this file, run by the runtime"};
  if (p && p->images > 0) {
    for (StageRow* s : {&quantized, &sqz})
      s->top1 = p->top1, s->top5 = p->top5, s->agreement = p->agreement, s->mean_kl = p->mean_kl;
  }
  r->stages = {dense, pruned, quantized, sqz};
}

int run_report(const Settings& s, const GlobalFlags& flags) {
  for (const std::string& out : {s.html, s.chart})
    if (!out.empty())
      if (Status st = check_output_path(out, s.force); !st.is_ok()) return fail(st);
  std::vector<format::SqzFile> files;
  for (const std::string& path : s.models) {
    auto f = format::read_sqz(path);
    if (!f.is_ok()) return fail(f.status());
    files.push_back(std::move(*f));
  }
  ReportData r;
  r.model_path = s.models[0];
  r.reference_path = s.reference;
  r.file = files[0];
  fill_ledger(&r);

  ImageSet images;
  Scores reference_scores;
  bool have_reference = false;
  if (!s.images.empty()) {
    auto list = list_images(s.images);
    if (!list.is_ok()) return fail(list.status());
    if (s.limit > 0 && list->size() > static_cast<size_t>(s.limit)) list->resize(s.limit);
    if (list->empty()) return fail(Status(ErrorCode::kNotFound, s.images + ": no images"));
    std::string labels = s.labels;
    if (labels.empty()) {
      labels = (std::filesystem::path(s.images).parent_path() / "synsets.txt").string();
      if (!std::filesystem::exists(labels)) labels.clear();
    }
    const Shape& in = r.file.model.input_shape;
    auto set = load_image_files(*list, labels, {in[1], in[2], in[3]}, flags.quiet);
    if (!set.is_ok()) return fail(set.status());
    images = std::move(*set);
    if (!s.reference.empty()) {
      auto ref = load_any_model(s.reference, s.prototxt);
      if (!ref.is_ok()) return fail(ref.status());
      auto scores = score_images(*ref, images, s.threads, "measuring the reference", flags.quiet);
      if (!scores.is_ok()) return fail(scores.status().with_context(s.reference));
      reference_scores = std::move(*scores);
      have_reference = true;
    }
  }
  for (size_t i = 0; i < files.size(); ++i) {
    auto p = measure_point(s.models[i], files[i], images,
                           have_reference ? &reference_scores : nullptr, s.threads, flags.quiet);
    if (!p.is_ok()) return fail(p.status());
    r.points.push_back(*p);
  }
  fill_stages(&r);
  if (!s.html.empty())
    if (Status st = write_file_atomic(s.html, report_html(r), s.force); !st.is_ok())
      return fail(st);
  if (!s.chart.empty())
    if (Status st = write_file_atomic(s.chart, report_accuracy_svg(r), s.force); !st.is_ok())
      return fail(st);
  std::fputs((flags.json ? report_json(r) : report_markdown(r)).c_str(), stdout);
  if (!s.html.empty() && !flags.quiet) std::fprintf(stderr, "wrote %s\n", s.html.c_str());
  return kExitOk;
}

}  // namespace

int cmd_report(int argc, char** argv) {
  GlobalFlags flags;
  Settings s;
  po::options_description options("options");
  add_global_options(options, &flags);
  options.add_options()("models", po::value(&s.models)->required()->multitoken(),
                        ".sqz files; the first is described in full")(
      "reference", po::value(&s.reference), "the uncompressed model, for agreement and KL")(
      "prototxt", po::value(&s.prototxt), "Caffe network definition for the reference")(
      "images", po::value(&s.images),
      "folder of labelled images to measure on (each model skips its calibration images)")(
      "labels", po::value(&s.labels),
      "class list, '<wnid> <name>' per line (default: synsets.txt beside the folder)")(
      "limit", po::value(&s.limit)->default_value(0), "use only the first N images (0: all)")(
      "threads", po::value(&s.threads)->default_value(1), "worker threads")(
      "html", po::value(&s.html), "also write a self-contained HTML report with SVG charts")(
      "chart", po::value(&s.chart), "also write the accuracy-against-size chart as an SVG file")(
      "force,f", po::bool_switch(&s.force), "overwrite existing HTML or SVG files");
  po::variables_map vm;
  int code;
  if (!parse_args("report",
                  "MODEL.sqz [MORE.sqz ...] [--reference MODEL] [--images DIR] [--html FILE]",
                  options, {"models"}, argc, argv, &vm, &code))
    return code;
  if (s.threads < 1) return usage_error("report", "--threads must be at least 1");
  if (!s.reference.empty() && s.images.empty())
    return usage_error("report", "--reference needs --images to compare on");
  return run_report(s, flags);
}

}  // namespace sqz::cli
