// compress: the whole pipeline. import -> [prune -> distil the surviving weights] ->
// k-means weight sharing (fixed widths, or widths allocated towards --target-bytes) ->
// distil the shared centroids and biases on unlabeled calibration images -> Huffman -> .sqz,
// then both models measured on held-out images the pipeline never saw.
#include "compress_pipeline.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <sstream>

#include "bit_allocation.h"
#include "classify.h"
#include "evaluate.h"
#include "image_split.h"
#include "labels.h"
#include "output.h"
#include "progress.h"
#include "sqz/core/file_io.h"
#include "sqz/prune/prune.h"
#include "stage_table.h"

namespace sqz::cli {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void log(const GlobalFlags& f, const char* format, const std::string& text) {
  if (!f.quiet) std::fprintf(stderr, format, text.c_str());
}

// The two image lists: calibration and held-out (never overlapping).
struct ImageLists {
  std::vector<std::string> calib, holdout;
};

Result<ImageLists> image_lists(const CompressSettings& s) {
  ImageLists lists;
  if (!s.calib.empty()) {
    SQZ_ASSIGN_OR_RETURN(std::vector<std::string> files, list_images(s.calib));
    SQZ_RETURN_ERROR_IF(files.empty(), ErrorCode::kNotFound, s.calib + ": no images");
    if (s.calib_split.empty()) {
      lists.calib = files;
    } else {
      SQZ_ASSIGN_OR_RETURN(Fold fold, parse_fold(s.calib_split, "--calib-split"));
      std::vector<std::string> rest;
      split_by_fold(files, fold, &lists.calib, &rest);
      if (s.holdout.empty()) lists.holdout = rest;
    }
  }
  if (!s.holdout.empty()) {
    SQZ_ASSIGN_OR_RETURN(lists.holdout, list_images(s.holdout));
  }
  SQZ_ASSIGN_OR_RETURN(std::string calib_ids, fingerprint_files(lists.calib));
  format::Metadata md{{kCalibrationKey, calib_ids}};
  SQZ_ASSIGN_OR_RETURN(auto overlap, calibration_overlap(md, lists.holdout));
  SQZ_RETURN_ERROR_IF(!overlap.empty(), ErrorCode::kInvalidArgument,
                      overlap.front() + ": a held-out image is also a calibration image (" +
                          std::to_string(overlap.size()) +
                          " in all); accuracy on it proves nothing");
  return lists;
}

// A centre-cropped batch of the first n calibration images (the allocation's probe).
std::vector<float> probe_batch(const std::vector<image::Image>& images,
                               const image::Preprocess& pre, int n) {
  std::vector<float> out;
  const int off = (pre.resize - pre.crop) / 2;
  for (int i = 0; i < n; ++i) {
    const std::vector<float> x =
        image::preprocess_crop(images[static_cast<size_t>(i)], pre, off, off, false);
    out.insert(out.end(), x.begin(), x.end());
  }
  return out;
}

Status run_calibration(Model& student, const Model& teacher,
                       const std::vector<image::Image>& images, const image::Preprocess& pre,
                       const CalibrateOptions& o, const std::string& label,
                       const GlobalFlags& flags) {
  Progress bar(label, o.steps, !flags.quiet);
  const auto t0 = std::chrono::steady_clock::now();
  double last = 0;
  SQZ_RETURN_IF_ERROR(calibrate(student, teacher, images, pre, o, [&](int step, double loss) {
    bar.update(step);
    last = loss;
    if (flags.verbose && (step % 50 == 0 || step == o.steps))
      std::fprintf(stderr, "  %s: step %d/%d, mean loss %.5f\n", label.c_str(), step, o.steps,
                   loss);
  }));
  bar.finish();
  if (!flags.quiet)
    std::fprintf(stderr, "  %s: %d steps of %d images in %.0f s, mean loss %.5f\n", label.c_str(),
                 o.steps, o.batch, seconds_since(t0), last);
  return Status::ok();
}

// Each layer's size and sensitivity at every candidate width (see bit_allocation.h).
Result<BitTable> measure_widths(const Model& model, const CompressSettings& s,
                                const quant::QuantizeOptions& q,
                                const std::vector<image::Image>& images,
                                const image::Preprocess& pre, const GlobalFlags& flags) {
  SQZ_ASSIGN_OR_RETURN(std::vector<int> widths, parse_widths(s.widths));
  const int n = std::min<int>(s.probe_images, static_cast<int>(images.size()));
  const std::vector<float> probe = probe_batch(images, pre, n);
  rt::NetOptions no;
  no.threads = s.threads;
  no.policy = rt::KernelPolicy::kDense;
  SQZ_ASSIGN_OR_RETURN(auto net, rt::Net::create(model, no));
  std::vector<float> teacher;
  SQZ_RETURN_IF_ERROR(net->forward(probe.data(), n, &teacher));
  int64_t layers = 0;
  for (const Layer& l : model.layers) layers += l.op == OpKind::kConvolution;
  Progress bar("sensitivity per layer and width", layers * static_cast<int64_t>(widths.size()),
               !flags.quiet);
  SQZ_ASSIGN_OR_RETURN(BitTable table, measure_bit_costs(model, q, float_codings(s), widths,
                                                         probe.data(), n, teacher, s.threads,
                                                         [&](int done, int) { bar.update(done); }));
  return table;
}

std::string widths_summary(const Model& m) {
  std::string out;
  for (const Layer& l : m.layers)
    if (l.quant.active())
      out += (out.empty() ? "" : " ") + l.name + "=" + std::to_string(l.quant.bits);
  return out;
}

std::string pipeline_summary(const CompressSettings& s, const ImageLists& lists) {
  char b[512];
  std::snprintf(b, sizeof b,
                "compress density=%g bits=%d target_bytes=%lld init=%s calib_images=%zu "
                "calib_steps=%d batch=%d lr=%g T=%g augment=%d seed=%llu",
                s.density, s.bits, static_cast<long long>(s.target_bytes), s.init.c_str(),
                lists.calib.size(), s.calibration.steps, s.calibration.batch,
                s.calibration.learning_rate, s.calibration.temperature, s.calibration.augment,
                static_cast<unsigned long long>(s.seed));
  return b;
}

// Quantizes `model` (a copy per try) with widths allocated so that the encoded file, with its
// metadata, fits the target; without a target, with the fixed widths. The table does not see
// the metadata: each try measures the bytes it missed and allocates for that much less.
Result<Model> quantize_to_fit(const Model& model, const CompressSettings& s,
                              quant::QuantizeOptions q, const BitTable* table,
                              format::Metadata metadata) {
  int64_t unmodeled = 0;
  for (int attempt = 0; attempt < 8; ++attempt) {
    quant::QuantizeOptions o = q;
    int64_t estimate = 0;
    if (table) {
      SQZ_ASSIGN_OR_RETURN(auto bits, allocate_bits(*table, s.target_bytes - unmodeled));
      estimate = allocated_bytes(*table, bits);
      for (const auto& [name, b] : bits)
        if (!o.layer_bits.count(name)) o.layer_bits[name] = b;
    }
    Model m = model;
    SQZ_RETURN_IF_ERROR(quant::check_options(m, o));
    SQZ_RETURN_IF_ERROR(quant::quantize_model(m, o).status());
    if (s.target_bytes <= 0) return m;
    metadata.push_back({"widths", widths_summary(m)});
    std::string bytes;
    SQZ_RETURN_IF_ERROR(format::encode_sqz(m, {metadata}, &bytes).status());
    metadata.pop_back();
    const int64_t size = static_cast<int64_t>(bytes.size());
    if (size <= s.target_bytes) return m;
    unmodeled = std::max(unmodeled + (size - s.target_bytes), size - estimate);
  }
  return Status(ErrorCode::kLimit, "the widths found do not fit --target-bytes after 8 tries");
}

Result<StageRow> measure_model(const Model& m, const std::string& stage, int64_t bytes,
                               const std::string& how, const ImageSet& holdout,
                               const Scores* reference, int threads, Scores* scores_out,
                               bool quiet) {
  SQZ_ASSIGN_OR_RETURN(Scores scores,
                       score_images(m, holdout, threads, "measuring " + stage, quiet));
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
  Run(const CompressSettings& settings, const GlobalFlags& global) : s(settings), flags(global) {}
  const CompressSettings& s;
  const GlobalFlags& flags;
  Model teacher, model;
  image::Preprocess pre;
  ImageLists lists;
  std::vector<image::Image> calib;  // decoded and resized once
  format::Metadata metadata;
  std::string bytes;  // the encoded .sqz
};

Status load_stage(Run& r) {
  log(r.flags, "[1/6] loading %s\n", r.s.model);
  SQZ_ASSIGN_OR_RETURN(r.teacher, load_any_model(r.s.model, r.s.prototxt));
  r.model = r.teacher;
  SQZ_ASSIGN_OR_RETURN(r.lists, image_lists(r.s));
  if (r.lists.calib.empty()) {
    SQZ_RETURN_ERROR_IF(r.s.target_bytes > 0, ErrorCode::kInvalidArgument,
                        "--target-bytes needs --calib images to measure each layer's "
                        "sensitivity");
    return Status::ok();
  }
  const Shape& in = r.teacher.input_shape;
  auto pre = preprocess_for({in[1], in[2], in[3]});
  if (!pre.is_ok()) return pre.status().with_context(r.s.model);
  r.pre = *pre;
  Progress bar("decoding calibration images", static_cast<int64_t>(r.lists.calib.size()),
               !r.flags.quiet);
  SQZ_ASSIGN_OR_RETURN(
      r.calib, load_calibration_images(r.lists.calib, r.pre, [&](int n) { bar.update(n); }));
  return Status::ok();
}

Status prune_stage(Run& r) {
  if (r.s.density <= 0 && r.s.layer_density.empty()) {
    log(r.flags, "[2/6] %s\n", "pruning: off (the model's zeros stay pruned)");
    return Status::ok();
  }
  log(r.flags, "[2/6] %s\n", "pruning by one global magnitude threshold");
  prune::PruneOptions po;
  po.criterion = prune::Criterion::kGlobalDensity;
  po.density = r.s.density > 0 ? r.s.density : 1.0;
  SQZ_ASSIGN_OR_RETURN(po.granularity, parse_granularity(r.s.granularity));
  SQZ_ASSIGN_OR_RETURN(po.layer_density, parse_name_values(r.s.layer_density, "--layer-density"));
  SQZ_RETURN_IF_ERROR(prune::check_options(r.model, po));
  SQZ_RETURN_IF_ERROR(prune::prune_once(r.model, po).status());
  if (r.calib.empty() || r.s.retrain_steps <= 0) return Status::ok();
  CalibrateOptions o = r.s.calibration;
  o.steps = r.s.retrain_steps;
  o.learning_rate = r.s.calibration.learning_rate / 10;  // weights, not centroids: finer
  return run_calibration(r.model, r.teacher, r.calib, r.pre, o, "retraining the surviving weights",
                         r.flags);
}

Status quantize_stage(Run& r, const quant::QuantizeOptions& q) {
  SQZ_ASSIGN_OR_RETURN(std::string calib_ids, fingerprint_files(r.lists.calib));
  r.metadata = standard_metadata(r.s.model, pipeline_summary(r.s, r.lists));
  if (!r.lists.calib.empty()) r.metadata.push_back({kCalibrationKey, calib_ids});
  std::unique_ptr<BitTable> table;
  if (r.s.target_bytes > 0) {
    log(r.flags, "[3/6] %s\n",
        "weight sharing: widths towards " + std::to_string(r.s.target_bytes) + " bytes");
    SQZ_ASSIGN_OR_RETURN(BitTable t, measure_widths(r.model, r.s, q, r.calib, r.pre, r.flags));
    table = std::make_unique<BitTable>(std::move(t));
  } else {
    log(r.flags, "[3/6] %s\n", "weight sharing: " + std::to_string(r.s.bits) + " bits");
  }
  SQZ_ASSIGN_OR_RETURN(r.model, quantize_to_fit(r.model, r.s, q, table.get(), r.metadata));
  r.metadata.push_back({"widths", widths_summary(r.model)});
  if (r.flags.verbose) log(r.flags, "  widths: %s\n", widths_summary(r.model));
  return Status::ok();
}

Status calibrate_stage(Run& r) {
  if (r.calib.empty() || r.s.calibration.steps <= 0) {
    log(r.flags, "[4/6] %s\n", "calibration: off (no --calib)");
    return Status::ok();
  }
  log(r.flags, "[4/6] %s\n",
      "distilling centroids and biases on " + std::to_string(r.calib.size()) + " images");
  return run_calibration(r.model, r.teacher, r.calib, r.pre, r.s.calibration,
                         "calibrating centroids", r.flags);
}

Status encode_stage(Run& r) {
  log(r.flags, "[5/6] %s\n", "Huffman coding into " + r.s.out);
  format::SqzEncodeOptions eo = float_codings(r.s);
  eo.metadata = r.metadata;
  SQZ_RETURN_IF_ERROR(format::encode_sqz(r.model, eo, &r.bytes).status());
  return write_file_atomic(r.s.out, r.bytes, r.s.force);
}

// Both models on the held-out images (the compressed one decoded from the file's bytes, as
// the runtime loads it), or sizes only when there are none.
Result<std::vector<StageRow>> measure_stage(const Run& r, ImageSet* holdout) {
  auto input_bytes = read_file(r.s.model);
  const int64_t in_bytes = input_bytes.is_ok() ? static_cast<int64_t>(input_bytes->size()) : 0;
  StageRow input{"input (" + std::filesystem::path(r.s.model).filename().string() + ")", in_bytes,
                 "as given"};
  StageRow output{"compressed (" + std::filesystem::path(r.s.out).filename().string() + ")",
                  static_cast<int64_t>(r.bytes.size()), "pruned + shared weights + Huffman"};
  if (r.lists.holdout.empty()) {
    log(r.flags, "[6/6] %s\n",
        "no held-out images (--holdout or --calib-split): accuracy not measured");
    return std::vector<StageRow>{input, output};
  }
  log(r.flags, "[6/6] %s\n",
      "running both models on " + std::to_string(r.lists.holdout.size()) + " held-out images");
  std::string labels = r.s.labels;
  if (labels.empty())
    labels = (std::filesystem::path(r.lists.holdout[0]).parent_path().parent_path() / "synsets.txt")
                 .string();
  if (!std::filesystem::exists(labels)) labels.clear();
  const Shape& in = r.teacher.input_shape;
  SQZ_ASSIGN_OR_RETURN(
      *holdout, load_image_files(r.lists.holdout, labels, {in[1], in[2], in[3]}, r.flags.quiet));
  auto back = format::decode_sqz(r.bytes);
  if (!back.is_ok()) return back.status().with_context(r.s.out);
  Scores reference;
  SQZ_ASSIGN_OR_RETURN(input, measure_model(r.teacher, input.stage, in_bytes, input.how, *holdout,
                                            nullptr, r.s.threads, &reference, r.flags.quiet));
  SQZ_ASSIGN_OR_RETURN(output,
                       measure_model(back->model, output.stage, output.bytes, output.how, *holdout,
                                     &reference, r.s.threads, nullptr, r.flags.quiet));
  return std::vector<StageRow>{input, output};
}

void print_result(const Run& r, const std::vector<StageRow>& rows, int64_t images, double seconds) {
  if (r.flags.json) {
    nlohmann::json j = stage_table_object(rows, images);
    j["output"] = r.s.out;
    j["seconds"] = seconds;
    for (const Layer& l : r.model.layers)
      if (l.quant.active()) j["widths"][l.name] = l.quant.bits;
    std::fputs((j.dump(2) + "\n").c_str(), stdout);
  } else {
    std::fputs(stage_table_text(rows, images).c_str(), stdout);
  }
  if (!r.flags.quiet)
    std::fprintf(stderr, "wrote %s (%zu bytes) in %.0f s\n", r.s.out.c_str(), r.bytes.size(),
                 seconds);
}

}  // namespace

format::SqzEncodeOptions float_codings(const CompressSettings& s) {
  format::SqzEncodeOptions o;
  o.half_floats = s.half_floats;
  o.int8_biases = s.int8_biases;
  return o;
}

Result<quant::QuantizeOptions> quantize_options(const CompressSettings& s) {
  quant::QuantizeOptions q;
  q.bits = s.bits;
  q.seed = s.seed;
  if (s.init == "linear")
    q.init = quant::Init::kLinear;
  else if (s.init == "kmeans++")
    q.init = quant::Init::kKmeansPlusPlus;
  else if (s.init == "exact")
    q.exact = true;
  else
    return Status(ErrorCode::kInvalidArgument,
                  "--init must be linear, kmeans++ or exact, not '" + s.init + "'");
  SQZ_ASSIGN_OR_RETURN(auto values, parse_name_values(s.layer_bits, "--layer-bits"));
  for (const auto& [name, v] : values) q.layer_bits[name] = static_cast<int>(v);
  return q;
}

Result<std::vector<int>> parse_widths(const std::string& text) {
  std::vector<int> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    char* end = nullptr;
    const long b = std::strtol(item.c_str(), &end, 10);
    if (item.empty() || *end || b < 1 || b > 8 || (!out.empty() && b <= out.back()))
      return Status(ErrorCode::kInvalidArgument,
                    "--widths wants ascending bit widths in 1..8, e.g. 4,5,6,7,8");
    out.push_back(static_cast<int>(b));
  }
  return out;
}

int run_compress(const CompressSettings& s, const quant::QuantizeOptions& q,
                 const GlobalFlags& flags) {
  const auto t0 = std::chrono::steady_clock::now();
  Run r{s, flags};
  Status st = load_stage(r);
  if (st.is_ok()) st = prune_stage(r);
  if (st.is_ok()) st = quantize_stage(r, q);
  if (st.is_ok()) st = calibrate_stage(r);
  if (st.is_ok()) st = encode_stage(r);
  if (!st.is_ok()) return fail(st);
  ImageSet holdout;
  auto rows = measure_stage(r, &holdout);
  if (!rows.is_ok()) return fail(rows.status());
  print_result(r, *rows, static_cast<int64_t>(holdout.inputs.size()), seconds_since(t0));
  return kExitOk;
}

}  // namespace sqz::cli
