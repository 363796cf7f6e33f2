// compress: the whole pipeline. import -> [prune -> distil the surviving weights] ->
// k-means weight sharing (fixed widths, or widths allocated towards --target-bytes) ->
// distil the shared centroids and biases on unlabeled calibration images -> Huffman -> .sqz,
// then both models measured on held-out images the pipeline never saw.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <sstream>

#include "bit_allocation.h"
#include "calibrate.h"
#include "classify.h"
#include "commands.h"
#include "common.h"
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

struct Settings {
  std::string model, prototxt, out, config;
  bool force = false;
  int threads = 1;
  uint64_t seed = 1;
  // pruning
  double density = 0;
  std::vector<std::string> layer_density;
  int retrain_steps = 300;
  // weight sharing
  int bits = 6;
  std::vector<std::string> layer_bits;
  int64_t target_bytes = 0;
  int probe_images = 24;
  std::string widths = "3,4,5,6,7,8";
  std::string init = "linear";
  // calibration
  std::string calib, calib_split, holdout, labels;
  CalibrateOptions calibration;
};

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

Result<ImageLists> image_lists(const Settings& s) {
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

Result<quant::QuantizeOptions> quantize_options(const Settings& s) {
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
Result<BitTable> measure_widths(const Model& model, const Settings& s,
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
  SQZ_ASSIGN_OR_RETURN(BitTable table,
                       measure_bit_costs(model, q, widths, probe.data(), n, teacher, s.threads,
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

std::string pipeline_summary(const Settings& s, const ImageLists& lists) {
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
// metadata, fits the target; without a target, with the fixed widths.
Result<Model> quantize_to_fit(const Model& model, const Settings& s, quant::QuantizeOptions q,
                              const BitTable* table, format::Metadata metadata) {
  int64_t over = 0;
  for (int attempt = 0; attempt < 8; ++attempt) {
    quant::QuantizeOptions o = q;
    if (table) {
      SQZ_ASSIGN_OR_RETURN(auto bits, allocate_bits(*table, s.target_bytes - over));
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
    over += size - s.target_bytes;
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

int run_compress(const Settings& s, const quant::QuantizeOptions& q, const GlobalFlags& flags) {
  const auto t0 = std::chrono::steady_clock::now();
  log(flags, "[1/6] loading %s\n", s.model);
  Result<Model> loaded = load_any_model(s.model, s.prototxt);
  if (!loaded.is_ok()) return fail(loaded.status());
  const Model teacher = *loaded;
  Model m = std::move(*loaded);
  const Shape& in = teacher.input_shape;
  auto pre = preprocess_for({in[1], in[2], in[3]});
  auto lists = image_lists(s);
  if (!lists.is_ok()) return fail(lists.status());
  if (!lists->calib.empty() && !pre.is_ok()) return fail(pre.status().with_context(s.model));
  std::vector<image::Image> calib;
  if (!lists->calib.empty()) {
    Progress bar("decoding calibration images", static_cast<int64_t>(lists->calib.size()),
                 !flags.quiet);
    auto images = load_calibration_images(lists->calib, *pre, [&](int n) { bar.update(n); });
    if (!images.is_ok()) return fail(images.status());
    calib = std::move(*images);
  }
  if (s.target_bytes > 0 && calib.empty())
    return fail(Status(ErrorCode::kInvalidArgument,
                       "--target-bytes needs --calib images to measure each layer's sensitivity"));

  if (s.density > 0 || !s.layer_density.empty()) {
    log(flags, "[2/6] %s\n", "pruning by one global magnitude threshold");
    prune::PruneOptions po;
    po.criterion = prune::Criterion::kGlobalDensity;
    po.density = s.density > 0 ? s.density : 1.0;
    auto overrides = parse_name_values(s.layer_density, "--layer-density");
    if (!overrides.is_ok()) return fail(overrides.status());
    po.layer_density = *overrides;
    if (Status st = prune::check_options(m, po); !st.is_ok()) return fail(st);
    if (auto r = prune::prune_once(m, po); !r.is_ok()) return fail(r.status());
    if (!calib.empty() && s.retrain_steps > 0) {
      CalibrateOptions o = s.calibration;
      o.steps = s.retrain_steps;
      o.learning_rate = s.calibration.learning_rate / 10;  // weights, not centroids: finer
      if (Status st = run_calibration(m, teacher, calib, *pre, o,
                                      "retraining the surviving weights", flags);
          !st.is_ok())
        return fail(st);
    }
  } else {
    log(flags, "[2/6] %s\n", "pruning: off (the model's zeros stay pruned)");
  }

  auto calib_ids = fingerprint_files(lists->calib);
  if (!calib_ids.is_ok()) return fail(calib_ids.status());
  format::Metadata metadata = standard_metadata(s.model, pipeline_summary(s, *lists));
  if (!lists->calib.empty()) metadata.push_back({kCalibrationKey, *calib_ids});
  std::unique_ptr<BitTable> table;
  if (s.target_bytes > 0) {
    log(flags, "[3/6] %s\n",
        "weight sharing: widths towards " + std::to_string(s.target_bytes) + " bytes");
    auto t = measure_widths(m, s, q, calib, *pre, flags);
    if (!t.is_ok()) return fail(t.status());
    table = std::make_unique<BitTable>(std::move(*t));
  } else {
    log(flags, "[3/6] %s\n", "weight sharing: " + std::to_string(s.bits) + " bits");
  }
  auto quantized = quantize_to_fit(m, s, q, table.get(), metadata);
  if (!quantized.is_ok()) return fail(quantized.status());
  m = std::move(*quantized);
  metadata.push_back({"widths", widths_summary(m)});
  if (flags.verbose) log(flags, "  widths: %s\n", widths_summary(m));

  if (!calib.empty() && s.calibration.steps > 0) {
    log(flags, "[4/6] %s\n",
        "distilling centroids and biases on " + std::to_string(calib.size()) + " images");
    if (Status st =
            run_calibration(m, teacher, calib, *pre, s.calibration, "calibrating centroids", flags);
        !st.is_ok())
      return fail(st);
  } else {
    log(flags, "[4/6] %s\n", "calibration: off (no --calib)");
  }

  log(flags, "[5/6] %s\n", "Huffman coding into " + s.out);
  std::string bytes;
  format::SqzEncodeOptions eo;
  eo.metadata = metadata;
  auto encoded = format::encode_sqz(m, eo, &bytes);
  if (!encoded.is_ok()) return fail(encoded.status());
  if (Status st = write_file_atomic(s.out, bytes, s.force); !st.is_ok()) return fail(st);

  std::vector<StageRow> rows;
  auto input_bytes = read_file(s.model);
  const int64_t in_bytes = input_bytes.is_ok() ? static_cast<int64_t>(input_bytes->size()) : 0;
  const std::string input_stage =
      "input (" + std::filesystem::path(s.model).filename().string() + ")";
  const std::string out_stage =
      "compressed (" + std::filesystem::path(s.out).filename().string() + ")";
  ImageSet holdout;
  if (!lists->holdout.empty()) {
    log(flags, "[6/6] %s\n",
        "running both models on " + std::to_string(lists->holdout.size()) + " held-out images");
    std::string labels = s.labels;
    if (labels.empty())
      labels =
          (std::filesystem::path(lists->holdout[0]).parent_path().parent_path() / "synsets.txt")
              .string();
    if (!std::filesystem::exists(labels)) labels.clear();
    auto set = load_image_files(lists->holdout, labels, {in[1], in[2], in[3]}, flags.quiet);
    if (!set.is_ok()) return fail(set.status());
    holdout = std::move(*set);
    auto back = format::decode_sqz(bytes);  // the file itself, as the runtime loads it
    if (!back.is_ok()) return fail(back.status().with_context(s.out));
    Scores reference;
    auto r0 = measure_model(teacher, input_stage, in_bytes, "as given", holdout, nullptr, s.threads,
                            &reference, flags.quiet);
    if (!r0.is_ok()) return fail(r0.status());
    auto r1 = measure_model(back->model, out_stage, static_cast<int64_t>(bytes.size()),
                            "pruned + shared weights + Huffman", holdout, &reference, s.threads,
                            nullptr, flags.quiet);
    if (!r1.is_ok()) return fail(r1.status());
    rows = {*r0, *r1};
  } else {
    log(flags, "[6/6] %s\n",
        "no held-out images (--holdout or --calib-split): accuracy not measured");
    rows = {{input_stage, in_bytes, "as given"},
            {out_stage, static_cast<int64_t>(bytes.size()), "pruned + shared weights + Huffman"}};
  }
  const int64_t images = static_cast<int64_t>(holdout.inputs.size());
  if (flags.json) {
    nlohmann::json j = stage_table_object(rows, images);
    j["output"] = s.out;
    j["seconds"] = seconds_since(t0);
    for (const Layer& l : m.layers)
      if (l.quant.active()) j["widths"][l.name] = l.quant.bits;
    std::fputs((j.dump(2) + "\n").c_str(), stdout);
  } else {
    std::fputs(stage_table_text(rows, images).c_str(), stdout);
  }
  if (!flags.quiet)
    std::fprintf(stderr, "wrote %s (%zu bytes) in %.0f s\n", s.out.c_str(), bytes.size(),
                 seconds_since(t0));
  return kExitOk;
}

}  // namespace

int cmd_compress(int argc, char** argv) {
  GlobalFlags flags;
  Settings s;
  CalibrateOptions& c = s.calibration;
  po::options_description general("options");
  add_global_options(general, &flags);
  general.add_options()("model", po::value(&s.model)->required(), "input model")(
      "prototxt", po::value(&s.prototxt), "Caffe network definition for a .caffemodel or .net")(
      "output,o", po::value(&s.out)->required(), "output .sqz")(
      "force,f", po::bool_switch(&s.force), "overwrite an existing output")(
      "config", po::value(&s.config), "read further options from FILE (key = value lines)")(
      "threads", po::value(&s.threads)->default_value(1), "worker threads")(
      "seed", po::value(&s.seed)->default_value(1), "seed for crops, order and k-means++");
  po::options_description prune_opts("pruning (off unless --density or --layer-density)");
  prune_opts.add_options()("density", po::value(&s.density)->default_value(0.0),
                           "keep this fraction of all weights (one global magnitude threshold)")(
      "layer-density", po::value(&s.layer_density)->composing(), "NAME=D for one layer")(
      "retrain-steps", po::value(&s.retrain_steps)->default_value(300),
      "distillation steps on the surviving weights after pruning (needs --calib)");
  po::options_description quant_opts("weight sharing");
  quant_opts.add_options()("bits,b", po::value(&s.bits)->default_value(6),
                           "codebook index bits per layer, 1..8")(
      "layer-bits", po::value(&s.layer_bits)->composing(), "NAME=BITS for one layer")(
      "target-bytes", po::value(&s.target_bytes)->default_value(0),
      "choose each layer's bits so that the .sqz fits this size (needs --calib)")(
      "widths", po::value(&s.widths)->default_value("3,4,5,6,7,8"),
      "--target-bytes: candidate widths")(
      "probe-images", po::value(&s.probe_images)->default_value(24),
      "--target-bytes: calibration images used to measure each layer's sensitivity")(
      "init", po::value(&s.init)->default_value("linear"), "k-means: linear | kmeans++ | exact");
  po::options_description calib_opts("calibration (distillation on unlabeled images)");
  calib_opts.add_options()("calib", po::value(&s.calib), "folder of calibration images")(
      "calib-split", po::value(&s.calib_split),
      "K/N: calibrate on fold K of N of --calib, hold the rest out for measuring")(
      "calib-steps", po::value(&c.steps)->default_value(600), "optimizer steps (0: none)")(
      "calib-batch", po::value(&c.batch)->default_value(8), "images per step")(
      "calib-lr", po::value(&c.learning_rate)->default_value(1e-4), "Adam learning rate")(
      "temperature", po::value(&c.temperature)->default_value(1.0), "distillation temperature")(
      "no-augment", "centre crops only, no random crops or mirroring")(
      "holdout", po::value(&s.holdout), "folder of held-out labelled images to measure on")(
      "labels", po::value(&s.labels),
      "class list for held-out images (default: synsets.txt beside the folder)");
  general.add(prune_opts).add(quant_opts).add(calib_opts);
  po::variables_map vm;
  int code;
  if (!parse_args("compress",
                  "MODEL -o OUT.sqz [--calib DIR [--calib-split K/N]] [--target-bytes N | "
                  "--bits B] [--density D]",
                  general, {"model"}, argc, argv, &vm, &code))
    return code;
  c.augment = !vm.count("no-augment");
  c.threads = s.threads;
  c.seed = s.seed;
  if (s.threads < 1) return usage_error("compress", "--threads must be at least 1");
  if (s.calib.empty() && !s.calib_split.empty())
    return usage_error("compress", "--calib-split needs --calib");
  if (!s.calib_split.empty())
    if (auto fold = parse_fold(s.calib_split, "--calib-split"); !fold.is_ok())
      return usage_error("compress", fold.status().message());
  if (auto widths = parse_widths(s.widths); !widths.is_ok())
    return usage_error("compress", widths.status().message());
  if (Status st = check_output_path(s.out, s.force); !st.is_ok()) return fail(st);
  auto q = quantize_options(s);
  if (!q.is_ok()) return usage_error("compress", q.status().message());
  if (s.bits < 1 || s.bits > 8) return usage_error("compress", "--bits must be in 1..8");
  return run_compress(s, *q, flags);
}

}  // namespace sqz::cli
