// compress: the command line of the whole pipeline (sqz/pipeline/compress.h), with a config
// file; the .sqz is written once the pipeline has measured it.
#include <cstdio>

#include "commands.h"
#include "common.h"
#include "model_options.h"
#include "output.h"
#include "progress.h"
#include "sqz/core/file_io.h"
#include "sqz/pipeline/compress.h"
#include "sqz/pipeline/image_split.h"

namespace sqz::cli {
namespace {

// What the command line gives as text, before it is checked and typed.
struct Flags {
  std::string out, config, granularity = "weight", widths = "3,4,5,6,7,8", init = "linear",
                           method = "kmeans", calib_split, holdout_split, schedule = "gradual",
                           codes = "sequential";
  std::vector<std::string> layer_density, layer_bits;
  bool force = false, half_floats = false, int8_biases = false, float32_biases = false;
  bool codebook_refit = false;
  PreprocessFlags preprocess;
  std::string input_shape;
};

Result<quantize::QuantizeOptions> quantize_options(const Flags& f, int bits) {
  quantize::QuantizeOptions q;
  q.bits = bits;
  if (f.init == "kmeans++")
    q.init = quantize::Init::kKmeansPlusPlus;
  else if (f.init == "exact")
    q.exact = true;
  else if (f.init != "linear")
    return Status(ErrorCode::kInvalidArgument,
                  "--init must be linear, kmeans++ or exact, not '" + f.init + "'");
  if (f.method == "uniform")
    q.method = quantize::Method::kUniform;
  else if (f.method != "kmeans")
    return Status(ErrorCode::kInvalidArgument,
                  "--method must be kmeans or uniform, not '" + f.method + "'");
  SQZ_ASSIGN_OR_RETURN(q.layer_bits, parse_layer_bits(f.layer_bits));
  return q;
}

// Types the textual flags into the library's options; usage errors as kInvalidArgument.
Status finish_options(const Flags& f, pipeline::CompressOptions* o) {
  SQZ_ASSIGN_OR_RETURN(o->quantize, quantize_options(f, o->quantize.bits));
  SQZ_ASSIGN_OR_RETURN(o->pruning.granularity, parse_granularity(f.granularity));
  SQZ_ASSIGN_OR_RETURN(o->pruning.layer_density,
                       parse_name_values(f.layer_density, "--layer-density", 0, 1));
  SQZ_ASSIGN_OR_RETURN(o->widths, pipeline::parse_widths(f.widths));
  SQZ_RETURN_ERROR_IF(f.codes != "sequential" && f.codes != "compensated" && f.codes != "nearest",
                      ErrorCode::kInvalidArgument,
                      "--codes must be sequential, compensated or nearest, not '" + f.codes + "'");
  o->error_compensation = f.codes != "nearest";
  o->sequential = f.codes == "sequential";
  SQZ_RETURN_ERROR_IF(!f.calib_split.empty() && !f.holdout_split.empty(),
                      ErrorCode::kInvalidArgument,
                      "--calib-split and --holdout-split are two ways to split --calib: give one");
  if (!f.calib_split.empty()) {
    SQZ_ASSIGN_OR_RETURN(o->calib_fold, pipeline::parse_fold(f.calib_split, "--calib-split"));
  }
  if (!f.holdout_split.empty()) {
    SQZ_ASSIGN_OR_RETURN(o->calib_fold, pipeline::parse_fold(f.holdout_split, "--holdout-split"));
    o->calib_fold->held_out = true;
  }
  SQZ_RETURN_ERROR_IF(f.int8_biases + f.half_floats + f.float32_biases > 1,
                      ErrorCode::kInvalidArgument,
                      "--int8-biases, --half-floats and --float32-biases are one choice: give one");
  o->encoding.half_floats = f.half_floats;
  o->encoding.int8_biases = !f.half_floats && !f.float32_biases;
  o->refit_codebook = f.codebook_refit;
  o->output_name = f.out;
  SQZ_ASSIGN_OR_RETURN(o->preprocess, preprocess_spec(f.preprocess));
  SQZ_ASSIGN_OR_RETURN(o->import, import_options(f.input_shape));
  o->re_record_preprocess = f.preprocess.re_record;
  o->decode.allow_truncated = f.preprocess.allow_truncated;
  return pipeline::check_compress_options(*o);
}

void print_result(const pipeline::CompressResult& r, const std::string& out,
                  const GlobalFlags& flags) {
  if (flags.json) {
    char seconds[32];
    std::snprintf(seconds, sizeof seconds, "%.17g", r.seconds);
    std::vector<std::pair<std::string, std::string>> extra = {{"output", json_quote(out)},
                                                              {"seconds", seconds}};
    std::string widths;
    for (const auto& [name, bits] : r.widths) {
      char width[16];
      std::snprintf(width, sizeof width, "%.3g", bits);
      widths += (widths.empty() ? "{" : ", ") + json_quote(name) + ": " + width;
    }
    if (!widths.empty()) extra.emplace_back("widths", widths + "}");
    std::fputs(report::stage_table_json(r.stages, r.holdout_images, extra).c_str(), stdout);
  } else {
    std::fputs(report::stage_table_text(r.stages, r.holdout_images).c_str(), stdout);
  }
  if (!flags.quiet)
    std::fprintf(stderr, "wrote %s (%zu bytes) in %.0f s\n", printable(out).c_str(), r.bytes.size(),
                 r.seconds);
}

po::options_description prune_options(pipeline::CompressOptions* o, Flags* flags) {
  pipeline::CompressOptions& s = *o;
  Flags& f = *flags;
  po::options_description prune_opts("pruning (off unless --density or --layer-density)");
  prune_opts.add_options()("density",
                           ranged(&s.pruning.density, 0, 1, "density")->default_value(0.0),
                           "keep this fraction of all weights (one global magnitude threshold)")(
      "layer-density", po::value(&f.layer_density)->composing(), "NAME=D for one layer")(
      "granularity", po::value(&f.granularity)->default_value("weight"),
      "weight | kernel (k x k layers keep or lose whole kernels)")(
      "retrain-steps", ranged(&s.retrain_steps, 0, kMaxSteps, "retrain-steps")->default_value(300),
      "distillation steps on the surviving weights after pruning (needs --calib)");
  return prune_opts;
}

po::options_description quant_options(pipeline::CompressOptions* o, Flags* flags) {
  pipeline::CompressOptions& s = *o;
  Flags& f = *flags;
  po::options_description quant_opts("weight sharing");
  quant_opts.add_options()("bits,b", ranged(&s.quantize.bits, 1, 8, "bits")->default_value(6),
                           "codebook index bits per layer, 1..8")(
      "layer-bits", po::value(&f.layer_bits)->composing(), "NAME=BITS for one layer")(
      "target-bytes", ranged(&s.target_bytes, 0, 1e12, "target-bytes")->default_value(0),
      "choose each layer's bits so that the .sqz fits this size (needs --calib)")(
      "widths", po::value(&f.widths)->default_value("3,4,5,6,7,8"),
      "--target-bytes: candidate widths")(
      "half-widths",
      "--target-bytes: also codebook sizes half a bit between two widths (e.g. 91 centroids)")(
      "probe-images", ranged(&s.probe_images, 1, 1e6, "probe-images")->default_value(24),
      "--target-bytes: calibration images used to measure each layer's sensitivity")(
      "init", po::value(&f.init)->default_value("linear"), "k-means: linear | kmeans++ | exact")(
      "method", po::value(&f.method)->default_value("kmeans"),
      "codebook: kmeans (k-means centroids, the paper's) | uniform (a uniform grid whose step "
      "gives 0.75 x the width in bits of entropy, cells' means as centroids: entropy-"
      "constrained, Choi et al. 2017)")(
      "codes", po::value(&f.codes)->default_value("sequential"),
      "sequential (as compensated, then layer after layer against the uncompressed network's "
      "outputs given the inputs the shared layers before produce, biases matched) | "
      "compensated (each weight's rounding error pushed onto the weights not yet assigned, "
      "under the layer's input statistics from --calib; GPTQ/OBC) | nearest (nearest "
      "centroid)")("moment-images",
                   ranged(&s.moment_images, 1, 1e6, "moment-images")->default_value(256),
                   "--codes sequential|compensated: calibration images for the input "
                   "statistics (each also mirrored unless --no-augment)")(
      "rate-weight", ranged(&s.gptq.rate_weight, 0, 100, "rate-weight")->default_value(0),
      "--codes sequential|compensated: the price of a code's bits when choosing it, in units "
      "of the layer's own distortion-rate slope (0: error only; 1: fewer bytes for the same "
      "loss, which the target then spends on wider codes)")(
      "code-descent",
      ranged(&s.gptq.descent_passes, 0, 100, "code-descent")->default_value(s.gptq.descent_passes),
      "--codes sequential|compensated: then at most N passes of coordinate descent on each "
      "channel's codes (each weight takes the centroid that lowers the channel's output error "
      "the most); 0: the compensated codes as they come")(
      "code-pairs",
      ranged(&s.gptq.pair_passes, 0, 100, "code-pairs")->default_value(s.gptq.pair_passes),
      "--codes sequential|compensated: then at most N passes of pair moves (two weights of a "
      "channel at once, each one centroid up or down, where together they lower its output "
      "error), each followed by the descent again; 0: single changes only")(
      "block-steps",
      ranged(&s.blocks.steps, 0, 100000, "block-steps")->default_value(s.blocks.steps),
      "--codes sequential: then block reconstruction, N steps per block (a Fire module, a "
      "convolution with its pooling): each block's centroids and biases tuned so that its output "
      "matches the uncompressed block's given the compressed inputs (BRECQ); 0: off")(
      "block-images",
      ranged(&s.blocks.images, 1, 1e6, "block-images")->default_value(s.blocks.images),
      "--block-steps: calibration images it tunes on (each also mirrored unless --no-augment)")(
      "block-lr",
      ranged(&s.blocks.learning_rate, 1e-9, 1, "block-lr")->default_value(s.blocks.learning_rate),
      "--block-steps: Adam's learning rate (cosine decay)")(
      "codebook-refit", po::bool_switch(&f.codebook_refit),
      "--codes sequential|compensated: refit each codebook to its codes under the layer's "
      "input statistics, twice alternating with the codes (default: the k-means centroids)")(
      "int8-biases", po::bool_switch(&f.int8_biases),
      "store biases as 8-bit (scale x int8) and codebooks as binary16 (format 1.2; the "
      "default)")("half-floats", po::bool_switch(&f.half_floats),
                  "store biases and codebooks as IEEE binary16 (format 1.1)")(
      "float32-biases", po::bool_switch(&f.float32_biases),
      "store biases and codebooks as float32 (format 1.0, readable by every version)");
  return quant_opts;
}

po::options_description calib_options(pipeline::CompressOptions* o, Flags* flags) {
  pipeline::CompressOptions& s = *o;
  Flags& f = *flags;
  pipeline::CalibrateOptions& c = s.calibration;
  po::options_description calib_opts("calibration (distillation on unlabeled images)");
  calib_opts.add_options()("calib", po::value(&s.calib_dir), "folder of calibration images")(
      "calib-split", po::value(&f.calib_split),
      "K/N: calibrate on fold K of N of --calib, hold the rest out for measuring")(
      "holdout-split", po::value(&f.holdout_split),
      "K/N: hold fold K of N of --calib out for measuring, calibrate on the rest (k-fold: run "
      "K = 1..N and give report all N files)")(
      "calib-steps", ranged(&c.steps, 0, kMaxSteps, "calib-steps")->default_value(600),
      "optimizer steps (0: none)")("calib-batch",
                                   ranged(&c.batch, 1, kMaxBatch, "calib-batch")->default_value(8),
                                   "images per step")(
      "calib-lr", positive(&c.learning_rate, 10, "calib-lr")->default_value(1e-4),
      "Adam learning rate")("temperature",
                            positive(&c.temperature, 100, "temperature")->default_value(1.0),
                            "distillation temperature")(
      "no-augment",
      "centre crops only, no random crops or mirroring (calibration and the input statistics)")(
      "calib-validation",
      ranged(&c.validation_share, 0, 0.5, "calib-validation")->default_value(0.1),
      "share of the calibration images held aside to keep the calibration state nearest the "
      "input model on them (0: train on all, keep the last state)")(
      "holdout", po::value(&s.holdout_dir), "folder of held-out labelled images to measure on")(
      "labels", po::value(&s.labels),
      "class list for held-out images (default: synsets.txt beside the folder)");
  return calib_opts;
}

po::options_description train_options(pipeline::CompressOptions* o, Flags* flags) {
  pipeline::CompressOptions& s = *o;
  Flags& f = *flags;
  pipeline::RetrainSchedule& t = s.retrain;
  po::options_description train_opts(
      "labelled retraining (--train: replaces one-shot pruning and calibration)");
  train_opts.add_options()("train", po::value(&s.train_dir),
                           "folder of labelled training images (flat '<wnid>_' files, class "
                           "sub-folders, or --train-label-file)")(
      "train-label-file", po::value(&s.train_label_file),
      "lines 'relative/path<TAB>class' under --train")(
      "schedule", po::value(&f.schedule)->default_value("gradual"),
      "gradual (prune while retraining, Zhu & Gupta) | steps (prune, retrain, repeat)")(
      "prune-steps", ranged(&t.prune_steps, 1, 1e4, "prune-steps")->default_value(t.prune_steps),
      "pruning steps; the retraining run has prune-steps x train-steps steps")(
      "train-steps",
      ranged(&t.retrain_steps, 0, kMaxSteps, "train-steps")->default_value(t.retrain_steps),
      "optimizer steps per pruning step")(
      "train-lr", positive(&t.learning_rate, 10, "train-lr")->default_value(t.learning_rate),
      "Adam learning rate while pruning (cosine-decayed)")(
      "finetune-steps",
      ranged(&t.finetune_steps, 0, kMaxSteps, "finetune-steps")->default_value(t.finetune_steps),
      "centroid fine-tuning steps after weight sharing (paper Eq. 3)")(
      "finetune-lr", positive(&t.finetune_lr, 10, "finetune-lr")->default_value(t.finetune_lr),
      "centroid fine-tuning learning rate")(
      "quantize-at-once", "share weights in every layer at once (default: 1x1 layers first)")(
      "label-weight", ranged(&t.label_weight, 0, 1, "label-weight")->default_value(t.label_weight),
      "loss = w x cross-entropy + (1 - w) x distillation from the input model")(
      "train-temperature",
      positive(&t.temperature, 100, "train-temperature")->default_value(t.temperature),
      "distillation temperature while retraining")(
      "dropout", ranged(&t.dropout, 0, 0.99, "dropout")->default_value(t.dropout),
      "dropout ratio while retraining")(
      "train-batch", ranged(&t.batch, 1, kMaxBatch, "train-batch")->default_value(t.batch),
      "images per retraining step")("no-mirror", "no random mirroring of training images");
  return train_opts;
}

}  // namespace

int cmd_compress(int argc, char** argv) {
  GlobalFlags flags;
  Flags f;
  pipeline::CompressOptions s;
  pipeline::CalibrateOptions& c = s.calibration;
  po::options_description general("options");
  add_global_options(general, &flags);
  general.add_options()("model", po::value(&s.model_path)->required(), "input model")(
      "prototxt", po::value(&s.prototxt), "Caffe network definition for a .caffemodel or .net")(
      "output,o", po::value(&f.out)->required(), "output .sqz")(
      "force,f", po::bool_switch(&f.force), "overwrite an existing output")(
      "config", po::value(&f.config), "read further options from FILE (key = value lines)")(
      "threads", thread_count(&s.threads)->default_value(1), "worker threads")(
      "seed", ranged(&s.seed, 0, kMaxSeed, "seed")->default_value(1),
      "seed for crops, order and k-means++");
  general.add(prune_options(&s, &f)).add(quant_options(&s, &f)).add(calib_options(&s, &f));
  general.add(train_options(&s, &f));
  add_input_shape_option(general, &f.input_shape);
  add_preprocess_options(general, &f.preprocess);
  add_record_option(general, &f.preprocess);
  po::variables_map vm;
  int code;
  if (!parse_args(
          "compress",
          "MODEL -o OUT.sqz [--calib DIR [--calib-split K/N | --holdout-split K/N]] [--train DIR] "
          "[--target-bytes N | --bits B] [--density D]",
          general, {"model"}, argc, argv, &vm, &code))
    return code;
  c.augment = !vm.count("no-augment");
  s.half_widths = vm.count("half-widths") > 0;
  s.calibrate_after_sequential = vm.count("calib-steps") && !vm["calib-steps"].defaulted();
  pipeline::RetrainSchedule& t = s.retrain;
  t.mirror = !vm.count("no-mirror");
  t.pointwise_first = !vm.count("quantize-at-once");
  if (f.schedule != "gradual" && f.schedule != "steps")
    return usage_error("compress", "--schedule must be gradual or steps");
  t.gradual = f.schedule == "gradual";
  if (Status st = finish_options(f, &s); !st.is_ok()) return usage_error("compress", st.message());
  if (Status st = pipeline::check_option_dependencies(s, given_names(vm)); !st.is_ok())
    return usage_error("compress", st.message());
  if (Status st = require_sqz_output(f.out); !st.is_ok())
    return usage_error("compress", st.message());
  if (Status st = check_output_path(f.out, f.force); !st.is_ok()) return fail(st);
  ConsoleObserver observer(flags.quiet, flags.verbose);
  auto result = pipeline::compress(s, &observer);
  if (!result.is_ok())
    return result.status().code() == ErrorCode::kConflict
               ? usage_error("compress", re_record_hint(result.status()).message())
               : fail(result.status());
  if (Status st = write_file_atomic(f.out, result->bytes, f.force); !st.is_ok()) return fail(st);
  print_result(*result, f.out, flags);
  return kExitOk;
}

}  // namespace sqz::cli
