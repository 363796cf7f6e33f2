// compress: the whole pipeline (compress.h), as six stages over one run state.
#include "sqz/pipeline/compress.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "compress_images.h"
#include "compress_options.h"
#include "compress_widths.h"
#include "sqz/core/file_io.h"
#include "sqz/pipeline/bit_allocation.h"
#include "sqz/pipeline/classify.h"
#include "sqz/pipeline/evaluate.h"
#include "sqz/pipeline/input_moments.h"
#include "sqz/pipeline/labels.h"
#include "sqz/pipeline/model_io.h"
#include "sqz/pipeline/preprocessing.h"
#include "sqz/pipeline/weight_sharing.h"
#include "sqz/prune/prune.h"
#include "sqz/runtime/net.h"

namespace sqz::pipeline {
namespace {

using detail::calibration_steps;
using detail::class_list_for;
using detail::pipeline_summary;
using detail::image_lists;
using detail::probe_batch;
using detail::ImageLists;
using detail::measure_widths;
using detail::Fit;
using detail::quantize_to_fit;
using detail::widths_summary;
using detail::ImageSources;
using detail::WidthSearch;

ImageSources image_sources(const CompressOptions& s) {
  return {s.calib_dir, s.holdout_dir, s.labels, s.calib_fold};
}

WidthSearch width_search(const CompressOptions& s) {
  return {s.target_bytes, s.widths, s.half_widths, s.encoding, s.threads};
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

constexpr int kStages = 6;

void stage(Observer* o, int index, const std::string& what) {
  if (o) o->stage(index, kStages, what);
}

void note(Observer* o, const std::string& line) {
  if (o) o->note(line);
}

void detail(Observer* o, const std::string& line) {
  if (o) o->detail(line);
}

Status run_calibration(Model& student, const Model& teacher,
                       const std::vector<image::Image>& images, const image::Preprocess& pre,
                       const CalibrateOptions& o, const std::string& label, Observer* observer) {
  const auto t0 = std::chrono::steady_clock::now();
  double last = 0;
  CalibrationReport report;
  {
    Task task(observer, label, o.steps);
    SQZ_RETURN_IF_ERROR(calibrate(student, teacher, images, pre, o, [&](int step, double loss) {
      last = loss;
      if (step % 50 == 0 || step == o.steps) {
        char line[256];
        std::snprintf(line, sizeof line, "  %s: step %d/%d, mean loss %.5f", label.c_str(), step,
                      o.steps, loss);
        detail(observer, line);
      }
      return task.advance(step);
    }, &report));
  }
  char line[256];
  std::snprintf(line, sizeof line, "  %s: %d steps of %d images in %.0f s, mean loss %.5f",
                label.c_str(), o.steps, o.batch, seconds_since(t0), last);
  note(observer, line);
  if (report.validated_on == 0) return Status::ok();
  std::snprintf(line, sizeof line,
                "  %s: kept the state after step %d of %d (KL from the input model on %d images "
                "held aside: %.4f before, %.4f kept)",
                label.c_str(), report.step_kept, o.steps, report.validated_on, report.kl_before,
                report.kl_kept);
  note(observer, line);
  return Status::ok();
}

Result<StageRow> measure_model(const Model& m, const std::string& stage, int64_t bytes,
                               const std::string& how, const ImageSet& holdout,
                               const Scores* reference, int threads, Scores* scores_out,
                               Observer* observer) {
  SQZ_ASSIGN_OR_RETURN(Scores scores,
                       score_images(m, holdout, threads, "measuring " + stage, observer));
  const Accuracy a = measure_accuracy(scores, holdout, reference);
  StageRow r{stage, bytes, how};
  if (a.labelled) r.top1 = a.top1, r.top5 = a.top5;
  r.agreement = reference ? a.agreement : 1.0;
  r.mean_kl = reference ? a.mean_kl : 0.0;
  if (scores_out) *scores_out = std::move(scores);
  return r;
}

// The state one compress run carries from stage to stage.
struct Run {
  Run(const CompressOptions& options, Observer* obs) : s(options), observer(obs) {}
  const CompressOptions& s;
  Observer* observer;
  Model teacher, model;
  image::Preprocess pre;
  bool have_pre = false;  // pre was resolved (see resolve_stage_preprocess)
  ImageLists lists;
  std::vector<image::Image> calib;  // decoded and resized once
  LabelledTensors train;            // the labelled training set (`train`), when loaded here
  const LabelledTensors* train_set = nullptr;
  std::unique_ptr<LabelledRetraining> retraining;
  InputMoments moments;  // per layer, when codes are assigned by error compensation
  bool sequential_codes = false;  // the codes came from share_weights_sequential
  quantize::QuantizeOptions widths_asked;  // the widths weight sharing was given
  format::Metadata input_metadata, metadata;  // the input file's; the output's
  std::string bytes;  // the encoded .sqz
};

// The preprocessing the images get (given, recorded by an input .sqz, or Caffe's), when the
// run reads images or was given a spec; it is recorded in the output.
Status resolve_stage_preprocess(Run& r, const format::Metadata& input_metadata) {
  const bool needed = !r.lists.calib.empty() || !r.lists.holdout.files.empty() ||
                      !r.s.train_dir.empty() || r.s.preprocess;
  auto recorded = recorded_preprocess(input_metadata);
  if (!recorded.is_ok()) return recorded.status().with_context(r.s.model_path);
  const Shape& in = r.teacher.input_shape;
  auto resolved = resolve_preprocess({in[1], in[2], in[3]}, r.s.preprocess, *recorded,
                                     is_caffe_model_path(r.s.model_path), r.s.re_record_preprocess);
  if (!resolved.is_ok()) {
    // Nothing reads images and nothing was recorded: a network whose input is not an image.
    if (!needed && recorded->empty()) return Status::ok();
    return resolved.status().with_context(r.s.model_path);
  }
  const bool assumed = resolved->source == PreprocessSource::kAssumed;
  if (assumed && !needed) return Status::ok();  // nothing uses it: record nothing
  r.pre = resolved->pre;
  r.pre.decode = r.s.decode;
  r.have_pre = true;
  if (assumed)
    note(r.observer, "  " + r.s.model_path + " records no preprocessing; assuming caffe's (" +
                         describe_preprocess(r.pre) + ")");
  if (!recorded->empty() && describe_preprocess(r.pre) != *recorded)
    note(r.observer, "  " + r.s.model_path + " recorded the preprocessing '" + *recorded +
                         "'; the output records '" + describe_preprocess(r.pre) + "' instead");
  return Status::ok();
}

// The labelled training set and the recipe that will use it, when training.
Status load_training(Run& r) {
  if (!r.s.training()) return Status::ok();
  if (r.s.train_tensors) {
    r.train_set = r.s.train_tensors;
  } else {
    SQZ_RETURN_ERROR_IF(!r.have_pre, ErrorCode::kUnsupported,
                        r.s.model_path + ": its input is not an image; give tensors instead");
    const std::string classes = class_list_for(image_sources(r.s), r.s.train_dir);
    SQZ_ASSIGN_OR_RETURN(LabelledFiles list,
                         list_dataset({r.s.train_dir, classes, r.s.train_label_file}, true));
    SQZ_ASSIGN_OR_RETURN(int64_t outputs, class_count(r.teacher));
    SQZ_RETURN_IF_ERROR(check_labels_fit(list, outputs, r.s.model_path));
    SQZ_RETURN_IF_ERROR(check_training_batch(r.teacher, r.s.retrain.batch, r.s.threads).status());
    SQZ_ASSIGN_OR_RETURN(r.train,
                         load_labelled_tensors(list, r.pre, kMaxTrainingBytes, r.observer));
    r.train_set = &r.train;
  }
  RetrainOptions o;
  static_cast<PruneTarget&>(o) = r.s.pruning;
  static_cast<RetrainSchedule&>(o) = r.s.retrain;
  o.quantize = r.s.quantize;
  o.threads = r.s.threads;
  o.seed = r.s.seed;
  if (r.s.target_bytes > 0) o.pointwise_first = false;
  SQZ_ASSIGN_OR_RETURN(r.retraining,
                       LabelledRetraining::create(r.teacher, *r.train_set, o, r.observer));
  return Status::ok();
}

Status load_stage(Run& r) {
  stage(r.observer, 1, "loading " + r.s.model_path);
  SQZ_ASSIGN_OR_RETURN(r.teacher, load_any_model(r.s.model_path, r.s.prototxt, &r.input_metadata,
                                                 r.s.import));
  r.model = r.teacher;
  SQZ_ASSIGN_OR_RETURN(r.lists, image_lists(image_sources(r.s)));
  const auto& held_out = r.lists.holdout.files;  // none that shaped the input either
  SQZ_RETURN_IF_ERROR(refuse_calibration_images(r.s.model_path, r.input_metadata, held_out));
  if (!r.lists.holdout.files.empty()) {
    SQZ_ASSIGN_OR_RETURN(int64_t outputs, class_count(r.teacher));
    std::string fit_note;
    SQZ_RETURN_IF_ERROR(fit_labels(&r.lists.holdout, outputs, r.s.model_path, &fit_note));
    if (!fit_note.empty()) note(r.observer, "  " + fit_note);
  }
  SQZ_RETURN_IF_ERROR(resolve_stage_preprocess(r, r.input_metadata));
  SQZ_RETURN_IF_ERROR(load_training(r));
  if (r.lists.calib.empty()) {
    SQZ_RETURN_ERROR_IF(r.s.target_bytes > 0 && !r.train_set, ErrorCode::kInvalidArgument,
                        "`target_bytes` needs `calib` images to measure each layer's "
                        "sensitivity");
    return Status::ok();
  }
  if (r.s.calibration.steps > 0 || r.s.retrain_steps > 0)
    SQZ_RETURN_IF_ERROR(
        check_training_batch(r.teacher, r.s.calibration.batch, r.s.threads).status());
  Task task(r.observer, "decoding calibration images", static_cast<int64_t>(r.lists.calib.size()));
  SQZ_ASSIGN_OR_RETURN(r.calib, load_calibration_images(r.lists.calib, r.pre,
                                                        [&](int n) { return task.advance(n); }));
  return Status::ok();
}

Status prune_stage(Run& r) {
  if (r.s.pruning.density <= 0 && r.s.pruning.layer_density.empty()) {
    stage(r.observer, 2, "pruning: off (the model's zeros stay pruned)");
    return Status::ok();
  }
  if (r.retraining) {
    stage(r.observer, 2,
          "pruning during retraining on " + std::to_string(r.train_set->count()) +
              " labelled images");
    return r.retraining->prune(r.model);
  }
  stage(r.observer, 2, "pruning by one global magnitude threshold");
  prune::PruneOptions po;
  po.criterion = prune::Criterion::kGlobalDensity;
  po.density = r.s.pruning.density > 0 ? r.s.pruning.density : 1.0;
  po.granularity = r.s.pruning.granularity;
  po.layer_density = r.s.pruning.layer_density;
  SQZ_RETURN_IF_ERROR(prune::check_options(r.model, po));
  SQZ_RETURN_IF_ERROR(prune::prune_once(r.model, po).status());
  if (r.calib.empty() || r.s.retrain_steps <= 0) return Status::ok();
  CalibrateOptions o = r.s.calibration;
  o.steps = r.s.retrain_steps;
  o.learning_rate = r.s.calibration.learning_rate / 10;  // weights, not centroids: finer
  return run_calibration(r.model, r.teacher, r.calib, r.pre, o, "retraining the surviving weights",
                         r.observer);
}

// Each layer's input moments on the first moment_images calibration images (centre crops, mirrored
// too when calibration augments), if codes come by error compensation; the sharing options always.
Result<SharingOptions> sharing_for(Run& r) {
  SharingOptions o;
  o.quantize = r.s.quantize;
  o.gptq = r.s.gptq;
  o.refit_codebook = r.s.refit_codebook;
  if (!r.s.error_compensation || r.calib.empty() || r.retraining) return o;
  const int n = std::min<int>(r.s.moment_images, static_cast<int>(r.calib.size()));
  const std::vector<float> batch = probe_batch(r.calib, r.pre, n);
  MomentOptions mo;
  mo.threads = r.s.threads;
  mo.mirror = r.s.calibration.augment;
  const auto t0 = std::chrono::steady_clock::now();
  {
    Task task(r.observer, "input statistics of every layer", n);
    SQZ_ASSIGN_OR_RETURN(r.moments,
                         collect_input_moments(r.model, batch.data(), n, mo,
                                               [&](int64_t done) { return task.advance(done); }));
  }
  char line[160];
  std::snprintf(line, sizeof line,
                "  codes by error compensation under each layer's input moments (%d images%s, "
                "%.0f s)",
                n, mo.mirror ? " and their mirrors" : "", seconds_since(t0));
  note(r.observer, line);
  for (const Layer& l : r.model.layers)
    if (l.op == OpKind::kConvolution && !gets_moments(l, mo)) {
      std::snprintf(line, sizeof line,
                    "  note: '%.60s' has more than %lld inputs per output: nearest codes there",
                    l.name.c_str(), static_cast<long long>(mo.max_fan_in));
      note(r.observer, line);
    }
  o.moments = &r.moments;
  return o;
}

// The sequential method at the widths the fit found (or near them), on the moment images.
Result<Model> share_sequentially(Run& r, const SharingOptions& sharing, const BitTable* table,
                                 Fit& fit) {
  const int n = std::min<int>(r.s.moment_images, static_cast<int>(r.calib.size()));
  const std::vector<float> batch = probe_batch(r.calib, r.pre, n);
  SequentialSharing seq;
  seq.reference = &r.teacher;
  seq.images = batch.data();
  seq.n = n;
  seq.moments.threads = r.s.threads;
  seq.moments.mirror = r.s.calibration.augment;
  return detail::quantize_to_fit_sequentially(r.model, width_search(r.s), sharing, table,
                                              r.metadata, fit, seq, r.observer);
}

// The widths the allocation found (or the fixed ones), then weight sharing and centroid
// fine-tuning with labels on the unquantized model.
Status share_with_labels(Run& r, const SharingOptions& sharing, const BitTable* table) {
  std::map<std::string, int> widths;  // codebook sizes
  r.widths_asked = r.s.quantize;
  if (table) {
    Fit fit;
    SQZ_ASSIGN_OR_RETURN(Model sized, quantize_to_fit(r.model, width_search(r.s), sharing, table,
                                                      r.metadata, &fit));
    for (const Layer& l : sized.layers)
      if (l.quant.active())
        widths[l.name] = quantize::centroids_for(fit.kept, l.name, l.quant.bits);
    r.widths_asked = fit.kept;
  }
  return r.retraining->share_weights(r.model, widths);
}

// Without labels: the codes by error compensation (or nearest), then the sequential codes,
// which start from the widths the parallel ones fit (when there is a target: the table was
// measured with those).
Status share_from_images(Run& r, const SharingOptions& sharing, const BitTable* table) {
  const bool sequential = sharing.moments && r.s.sequential;
  Fit fit;
  Model shared;
  if (table || !sequential) {  // with sequential codes, only to find the widths
    SQZ_ASSIGN_OR_RETURN(shared, quantize_to_fit(r.model, width_search(r.s),
                                                 sequential ? detail::for_widths(sharing) : sharing,
                                                 table, r.metadata, &fit));
  }
  if (sequential) {
    auto seq = share_sequentially(r, sharing, table, fit);
    if (seq.is_ok()) {
      shared = std::move(*seq);
      r.sequential_codes = true;
    } else if (seq.status().code() == ErrorCode::kLimit && table) {
      note(r.observer, "  the sequential codes did not fit the target (tries above); the "
                       "compensated ones are kept, and calibrated");
      CompressOptions as_run = r.s;  // the file records what ran
      as_run.sequential = false;
      for (auto& [key, value] : r.metadata)
        if (key == "pipeline") value = pipeline_summary(as_run, r.lists);
    } else {
      return seq.status();
    }
  }
  r.model = std::move(shared);
  r.widths_asked = fit.kept;
  return Status::ok();
}

Status quantize_stage(Run& r) {
  SQZ_ASSIGN_OR_RETURN(std::string calib_ids, fingerprint_files(r.lists.calib));
  r.metadata = standard_metadata(r.s.model_path, pipeline_summary(r.s, r.lists));
  if (!r.lists.calib.empty()) add_calibration_fingerprints(calib_ids, &r.metadata);
  carry_calibration_fingerprints(r.input_metadata, &r.metadata);  // they shaped the input
  if (r.have_pre) r.metadata.push_back({kPreprocessKey, describe_preprocess(r.pre)});
  std::unique_ptr<BitTable> table;
  stage(r.observer, 3,
        r.s.target_bytes > 0
            ? "weight sharing: widths towards " + std::to_string(r.s.target_bytes) + " bytes"
            : "weight sharing: " + std::to_string(r.s.quantize.bits) + " bits");
  SQZ_ASSIGN_OR_RETURN(SharingOptions sharing, sharing_for(r));
  if (r.s.target_bytes > 0) {
    std::vector<float> probe;
    int n = 0;
    if (!r.calib.empty()) {
      n = std::min<int>(r.s.probe_images, static_cast<int>(r.calib.size()));
      probe = probe_batch(r.calib, r.pre, n);
    } else {  // training without calibration images: the first training images
      n = static_cast<int>(std::min<int64_t>(r.s.probe_images, r.train_set->count()));
      probe.assign(r.train_set->x.begin(),
                   r.train_set->x.begin() + n * shape_numel(r.train_set->chw));
    }
    SQZ_ASSIGN_OR_RETURN(BitTable t, measure_widths(r.model, width_search(r.s), sharing, probe, n, r.observer));
    table = std::make_unique<BitTable>(std::move(t));
  }
  SQZ_RETURN_IF_ERROR(r.retraining ? share_with_labels(r, sharing, table.get())
                                   : share_from_images(r, sharing, table.get()));
  r.metadata.push_back({"widths", widths_summary(r.model, r.widths_asked)});
  detail(r.observer, "  widths: " + widths_summary(r.model, r.widths_asked));
  return Status::ok();
}

// Block reconstruction (block_reconstruction.h) on the first blocks.images calibration images.
Status reconstruct_stage(Run& r) {
  BlockOptions o = r.s.blocks;
  o.threads = r.s.threads;
  o.seed = r.s.seed;
  o.mirror = r.s.calibration.augment;
  const int n = static_cast<int>(std::min<int64_t>(o.images, static_cast<int64_t>(r.calib.size())));
  stage(r.observer, 4,
        "block reconstruction: centroids and biases, block by block, on " + std::to_string(n) +
            " images");
  const std::vector<float> batch = probe_batch(r.calib, r.pre, n);
  std::vector<BlockResult> blocks;
  {  // the progress line ends before the blocks' lines
    Task task(r.observer, "tuning blocks", static_cast<int64_t>(reconstruction_blocks(r.model).size()));
    SQZ_ASSIGN_OR_RETURN(blocks, reconstruct_blocks(r.model, r.teacher, batch.data(), n, o,
                                                    [&](int done, int) { return task.advance(done); }));
  }
  for (const BlockResult& b : blocks) {
    if (!b.skipped.empty()) {
      note(r.observer, "  " + b.first + " .. " + b.last + ": left as it is (" + b.skipped + ")");
      continue;
    }
    char line[200];
    std::snprintf(line, sizeof line, "  %s .. %s: output error %.3g -> %.3g%s", b.first.c_str(),
                  b.last.c_str(), b.error_before, b.error_after, b.kept ? "" : " (not kept)");
    detail(r.observer, line);
  }
  return Status::ok();
}

// Block reconstruction follows sequential codes in place of the end-to-end calibration.
Status calibrate_stage(Run& r) {
  if (r.sequential_codes && calibration_steps(r.s, r.lists) == 0) {
    if (r.s.blocks.steps > 0) return reconstruct_stage(r);
    stage(r.observer, 4,
          "calibration: not after sequential codes (asking for `calib_steps` turns it on)");
    return Status::ok();
  }
  if (r.retraining)
    stage(r.observer, 4, "calibration: done by the labelled centroid fine-tuning");
  else if (r.calib.empty() || r.s.calibration.steps <= 0)
    stage(r.observer, 4, "calibration: off (no `calib`)");
  if (r.s.blocks.steps > 0)
    note(r.observer, "  `block_steps`: block reconstruction follows sequential codes without "
                     "labelled retraining or `calib_steps`; not run");
  if (r.retraining || r.calib.empty() || r.s.calibration.steps <= 0) return Status::ok();
  stage(r.observer, 4,
        "distilling centroids and biases on " + std::to_string(r.calib.size()) + " images");
  return run_calibration(r.model, r.teacher, r.calib, r.pre, r.s.calibration,
                         "calibrating centroids", r.observer);
}

Status encode_stage(Run& r) {
  stage(r.observer, 5, "Huffman coding into " + r.s.output_name);
  format::SqzEncodeOptions eo = r.s.encoding;
  eo.metadata = r.metadata;
  return format::encode_sqz(r.model, eo, &r.bytes).status();
}

// Both models on the held-out images (the compressed one decoded from the file's bytes, as
// the runtime loads it), or sizes only when there are none.
Result<std::vector<StageRow>> measure_stage(const Run& r, ImageSet* holdout) {
  auto input_bytes = read_file(r.s.model_path);
  const int64_t in_bytes = input_bytes.is_ok() ? static_cast<int64_t>(input_bytes->size()) : 0;
  StageRow input{"input (" + std::filesystem::path(r.s.model_path).filename().string() + ")",
                 in_bytes, "as given"};
  StageRow output{"compressed (" + std::filesystem::path(r.s.output_name).filename().string() + ")",
                  static_cast<int64_t>(r.bytes.size()), "pruned + shared weights + Huffman"};
  if (r.lists.holdout.files.empty()) {
    stage(r.observer, 6, "no held-out images (`holdout` or `calib_split`): accuracy not measured");
    return std::vector<StageRow>{input, output};
  }
  stage(r.observer, 6,
        "running both models on " + std::to_string(r.lists.holdout.size()) + " held-out images");
  SQZ_ASSIGN_OR_RETURN(*holdout, load_images(r.lists.holdout, r.pre, r.observer,
                                             /*skip_bad_images=*/false, r.s.threads));
  auto back = format::decode_sqz(r.bytes);
  if (!back.is_ok()) return back.status().with_context(r.s.output_name);
  Scores reference;
  SQZ_ASSIGN_OR_RETURN(input, measure_model(r.teacher, input.stage, in_bytes, input.how, *holdout,
                                            nullptr, r.s.threads, &reference, r.observer));
  SQZ_ASSIGN_OR_RETURN(output,
                       measure_model(back->model, output.stage, output.bytes, output.how, *holdout,
                                     &reference, r.s.threads, nullptr, r.observer));
  return std::vector<StageRow>{input, output};
}

}  // namespace

Result<CompressResult> compress(const CompressOptions& options, Observer* observer) {
  SQZ_RETURN_IF_ERROR(check_compress_options(options));
  const auto t0 = std::chrono::steady_clock::now();
  CompressOptions s = options;
  s.quantize.seed = s.seed;
  s.calibration.threads = s.threads;
  s.calibration.seed = s.seed;
  Run r{s, observer};
  SQZ_RETURN_IF_ERROR(load_stage(r));
  SQZ_RETURN_IF_ERROR(prune_stage(r));
  SQZ_RETURN_IF_ERROR(quantize_stage(r));
  SQZ_RETURN_IF_ERROR(calibrate_stage(r));
  SQZ_RETURN_IF_ERROR(encode_stage(r));
  ImageSet holdout;
  CompressResult result;
  SQZ_ASSIGN_OR_RETURN(result.stages, measure_stage(r, &holdout));
  result.holdout_images = static_cast<int64_t>(holdout.inputs.size());
  result.widths = detail::layer_widths(r.model, r.widths_asked);
  result.model = std::move(r.model);
  result.bytes = std::move(r.bytes);
  result.seconds = seconds_since(t0);
  return result;
}

}  // namespace sqz::pipeline
