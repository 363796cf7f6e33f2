// report's measurements: the ledger of the first file, each file on the images it was not
// calibrated on, and the paper-style stages.
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
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

// The images preprocessed one way, and the reference's scores on them (when given).
struct Measurement {
  ImageSet images;
  Scores reference;
};

// What every model is measured on: the labelled list, the reference model, and the images
// as each distinct preprocessing makes them (models that record different preprocessing, or
// have different inputs, are each measured as their own file says).
struct MeasurementSet {
  LabelledFiles list;
  std::optional<Model> reference;
  std::map<std::string, Measurement> by_preprocess;
};

// The preprocessing model `path` is measured with: the options', else its record, else
// Caffe's (with a note).
Result<image::Preprocess> model_preprocessing(const ReportOptions& s, const std::string& path,
                                              const format::SqzFile& f, Observer* observer) {
  auto recorded = recorded_preprocess(f.metadata);
  if (!recorded.is_ok()) return recorded.status().with_context(path);
  const Shape& in = f.model.input_shape;
  auto pre = resolve_preprocess({in[1], in[2], in[3]}, s.preprocess, *recorded, false, s.force);
  if (!pre.is_ok()) return pre.status().with_context(path);
  pre->pre.decode = s.decode;
  if (pre->source == PreprocessSource::kAssumed && observer)
    observer->note(path + " records no preprocessing; assuming caffe's (" +
                   describe_preprocess(pre->pre) + ")");
  return pre->pre;
}

// The reference must take the model's input and give its outputs: else its agreement and KL
// would compare different things.
Status check_reference_fits(const ReportOptions& s, const Model& reference, const std::string& path,
                            const Model& model) {
  SQZ_ASSIGN_OR_RETURN(int64_t ref_classes, class_count(reference));
  SQZ_ASSIGN_OR_RETURN(int64_t classes, class_count(model));
  const Shape& a = reference.input_shape;
  const Shape& b = model.input_shape;
  SQZ_RETURN_ERROR_IF(
      a.size() != 4 || b.size() != 4 || !std::equal(a.begin() + 1, a.end(), b.begin() + 1) ||
          ref_classes != classes,
      ErrorCode::kShapeMismatch,
      s.reference + " takes " + shape_to_string(a) + " and gives " + std::to_string(ref_classes) +
          " outputs, " + path + " takes " + shape_to_string(b) + " and gives " +
          std::to_string(classes) + ": the reference cannot be compared with it");
  return Status::ok();
}

// The measurement for preprocessing `pre` (made on first use).
Result<const Measurement*> measurement_for(const ReportOptions& s, const image::Preprocess& pre,
                                           MeasurementSet* set, Observer* observer) {
  const std::string key = describe_preprocess(pre);
  if (auto it = set->by_preprocess.find(key); it != set->by_preprocess.end()) return &it->second;
  Measurement m;
  SQZ_ASSIGN_OR_RETURN(m.images,
                       load_images(set->list, pre, observer, /*skip_bad_images=*/true, s.threads));
  SQZ_RETURN_ERROR_IF(
      m.images.inputs.empty() && !m.images.skipped.empty(), ErrorCode::kCorrupt,
      s.images + ": no image could be used (" + m.images.skipped.front().second + ")");
  if (!m.images.skipped.empty() && observer)
    observer->note(
        "skipped " + std::to_string(m.images.skipped.size()) +
        " image(s) that could not be used; the first: " + m.images.skipped.front().second);
  if (set->reference) {
    auto scores =
        score_images(*set->reference, m.images, s.threads, "measuring the reference", observer);
    if (!scores.is_ok()) return scores.status().with_context(s.reference);
    m.reference = std::move(*scores);
  }
  return &set->by_preprocess.emplace(key, std::move(m)).first->second;
}

// The labelled list and the reference, read once.
Status load_measurement_set(const ReportOptions& s, MeasurementSet* set) {
  const std::string labels = s.labels.empty() ? default_class_list(s.images) : s.labels;
  SQZ_ASSIGN_OR_RETURN(set->list,
                       list_dataset({s.images, labels, s.label_file, s.labels.empty()}, false));
  keep_first(&set->list, s.limit);
  if (s.reference.empty()) return Status::ok();
  SQZ_ASSIGN_OR_RETURN(Model ref, load_any_model(s.reference, s.prototxt));
  set->reference = std::move(ref);
  return Status::ok();
}

// The preprocessing model i is measured with, once its outputs are checked against the
// labels and the reference: every model is checked before any is measured.
Result<image::Preprocess> check_model(const ReportOptions& s, size_t i, const format::SqzFile& f,
                                      MeasurementSet* set, Observer* observer) {
  const std::string& path = s.models[i];
  SQZ_ASSIGN_OR_RETURN(int64_t classes, class_count(f.model));
  std::string note;
  SQZ_RETURN_IF_ERROR(fit_labels(&set->list, classes, path, &note));
  if (!note.empty() && observer) observer->note(note);
  if (set->reference) SQZ_RETURN_IF_ERROR(check_reference_fits(s, *set->reference, path, f.model));
  return model_preprocessing(s, path, f, observer);
}

}  // namespace

Status check_report_options(const ReportOptions& s) {
  SQZ_RETURN_ERROR_IF(s.models.empty(), ErrorCode::kInvalidArgument, "no .sqz file to report on");
  SQZ_RETURN_ERROR_IF(s.threads < 1, ErrorCode::kInvalidArgument, "`threads` must be at least 1");
  SQZ_RETURN_ERROR_IF(!s.reference.empty() && s.images.empty(), ErrorCode::kInvalidArgument,
                      "`reference` needs `images` to compare on");
  SQZ_RETURN_ERROR_IF(!s.prototxt.empty() && s.reference.empty(), ErrorCode::kInvalidArgument,
                      "`prototxt` describes a Caffe `reference`; give `reference`");
  if (!s.images.empty()) return Status::ok();
  const char* given = !s.labels.empty()          ? "`labels`"
                      : !s.label_file.empty()    ? "`label_file`"
                      : s.limit != 0             ? "`limit`"
                      : s.preprocess.has_value() ? "the preprocessing"
                      : s.decode.allow_truncated ? "`allow_truncated_images`"
                                                 : nullptr;
  SQZ_RETURN_ERROR_IF(given != nullptr, ErrorCode::kInvalidArgument,
                      std::string(given) + " needs `images`");
  return Status::ok();
}

Result<ReportData> build_report(const ReportOptions& s, Observer* observer) {
  SQZ_RETURN_IF_ERROR(check_report_options(s));
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
  MeasurementSet set;
  std::vector<image::Preprocess> pre;
  if (!s.images.empty()) {
    SQZ_RETURN_IF_ERROR(load_measurement_set(s, &set));
    for (size_t i = 0; i < files.size(); ++i) {
      SQZ_ASSIGN_OR_RETURN(image::Preprocess p, check_model(s, i, files[i], &set, observer));
      pre.push_back(p);
    }
  }
  for (size_t i = 0; i < files.size(); ++i) {
    const Measurement* m = nullptr;
    if (!pre.empty()) {
      SQZ_ASSIGN_OR_RETURN(m, measurement_for(s, pre[i], &set, observer));
    }
    SQZ_ASSIGN_OR_RETURN(
        ModelPoint p,
        measure_point(s.models[i], files[i], m ? m->images : ImageSet{},
                      m && set.reference ? &m->reference : nullptr, s.threads, observer));
    r.points.push_back(p);
  }
  fill_stages(&r);
  r.pooled = pool_points(r.points);
  return r;
}

}  // namespace sqz::pipeline
