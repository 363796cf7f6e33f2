// report's measurements: the ledger of the first file, each file on the images it was not
// calibrated on, and the paper-style stages.
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>

#include "sqz/format/paper_layout.h"
#include "sqz/pipeline/evaluate.h"
#include "sqz/pipeline/image_split.h"
#include "sqz/pipeline/labels.h"
#include "sqz/pipeline/model_io.h"
#include "sqz/pipeline/preprocessing.h"
#include "sqz/pipeline/report.h"

namespace sqz::pipeline {
namespace {

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

// The target_bytes compress recorded in the file's pipeline summary, or 0.
int64_t recorded_target(const format::Metadata& metadata) {
  for (const auto& [key, value] : metadata) {
    if (key != "pipeline") continue;
    const size_t at = value.find(" target_bytes=");
    if (at == std::string::npos) return 0;
    const long long t = std::strtoll(value.c_str() + at + 14, nullptr, 10);
    return t > 0 && t < (int64_t{1} << 40) ? t : 0;
  }
  return 0;
}

// The recorded source fingerprint and pipeline summary, the calibration image count taken out
// (the folds of one point differ in it when the images do not split evenly).
std::string recorded_recipe(const format::Metadata& metadata) {
  std::string source, pipeline;
  for (const auto& [key, value] : metadata) {
    if (key == "source_fnv1a64") source = value;
    if (key == "pipeline") pipeline = value;
  }
  const size_t at = pipeline.find(" calib_images=");
  if (at != std::string::npos) {
    const size_t end = pipeline.find(' ', at + 1);
    pipeline.erase(at, end == std::string::npos ? std::string::npos : end - at);
  }
  return pipeline.empty() ? "" : source + " " + pipeline;
}

// Measures one model on the images it was not calibrated on.
Result<ModelPoint> measure_point(const std::string& path, const format::SqzFile& f,
                                 const ImageSet& images, const Scores* reference, int threads,
                                 Observer* observer) {
  ModelPoint p;
  p.path = path;
  p.bytes = static_cast<int64_t>(f.file_bytes);
  p.target_bytes = recorded_target(f.metadata);
  p.recipe = recorded_recipe(f.metadata);
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
                       score_images(f.model, held_out, threads, "measuring " + path, observer));
  Scores ref;
  if (reference) ref = subset(*reference, keep);
  const Accuracy a = measure_accuracy(scores, held_out, reference ? &ref : nullptr);
  if (a.labelled) p.top1 = a.top1, p.top5 = a.top5;
  p.hits = a.hits;
  if (reference) {
    p.agreement = a.agreement, p.mean_kl = a.mean_kl;
    const Accuracy ra = measure_accuracy(ref, held_out, nullptr);
    if (ra.labelled) p.reference_top1 = ra.top1, p.reference_top5 = ra.top5;
    p.reference_hits = ra.hits;
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

// The labelled images to measure on, and the reference's scores on them (when given).
Status load_measurement_images(const ReportOptions& s, const format::SqzFile& first,
                               Observer* observer, ImageSet* images, Scores* reference,
                               bool* have_reference) {
  const Shape& in = first.model.input_shape;
  auto pre = resolve_preprocess({in[1], in[2], in[3]}, s.preprocess,
                                recorded_preprocess(first.metadata), false, s.force);
  if (!pre.is_ok()) return pre.status().with_context(s.models[0]);
  pre->pre.decode = s.decode;
  if (pre->source == PreprocessSource::kAssumed && observer)
    observer->note(s.models[0] + " records no preprocessing; assuming caffe's (" +
                   describe_preprocess(pre->pre) + ")");
  const std::string labels = s.labels.empty() ? default_class_list(s.images) : s.labels;
  SQZ_ASSIGN_OR_RETURN(LabelledFiles list, list_dataset({s.images, labels, s.label_file}, false));
  keep_first(&list, s.limit);
  SQZ_ASSIGN_OR_RETURN(*images, load_images(list, pre->pre, observer, /*skip_bad_images=*/true));
  SQZ_RETURN_ERROR_IF(images->inputs.empty() && !images->skipped.empty(), ErrorCode::kCorrupt,
                      s.images + ": no image could be used (" + images->skipped.front().second +
                          ")");
  if (!images->skipped.empty() && observer)
    observer->note("skipped " + std::to_string(images->skipped.size()) +
                   " image(s) that could not be used; the first: " +
                   images->skipped.front().second);
  if (s.reference.empty()) return Status::ok();
  SQZ_ASSIGN_OR_RETURN(Model ref, load_any_model(s.reference, s.prototxt));
  auto scores = score_images(ref, *images, s.threads, "measuring the reference", observer);
  if (!scores.is_ok()) return scores.status().with_context(s.reference);
  *reference = std::move(*scores);
  *have_reference = true;
  return Status::ok();
}

}  // namespace

Result<ReportData> build_report(const ReportOptions& s, Observer* observer) {
  SQZ_RETURN_ERROR_IF(s.models.empty(), ErrorCode::kInvalidArgument, "no .sqz file to report on");
  SQZ_RETURN_ERROR_IF(s.threads < 1, ErrorCode::kInvalidArgument, "--threads must be at least 1");
  SQZ_RETURN_ERROR_IF(!s.reference.empty() && s.images.empty(), ErrorCode::kInvalidArgument,
                      "--reference needs --images to compare on");
  std::vector<format::SqzFile> files;
  for (const std::string& path : s.models) {
    SQZ_ASSIGN_OR_RETURN(format::SqzFile f, format::read_sqz(path));
    files.push_back(std::move(f));
  }
  ReportData r;
  r.model_path = s.models[0];
  r.reference_path = s.reference;
  r.file = files[0];
  fill_ledger(&r);
  ImageSet images;
  Scores reference_scores;
  bool have_reference = false;
  if (!s.images.empty())
    SQZ_RETURN_IF_ERROR(load_measurement_images(s, r.file, observer, &images, &reference_scores,
                                                &have_reference));
  for (size_t i = 0; i < files.size(); ++i) {
    SQZ_ASSIGN_OR_RETURN(ModelPoint p, measure_point(s.models[i], files[i], images,
                                                     have_reference ? &reference_scores : nullptr,
                                                     s.threads, observer));
    r.points.push_back(p);
  }
  fill_stages(&r);
  r.pooled = pool_points(r.points);
  return r;
}

}  // namespace sqz::pipeline
