// compress: the command line of the whole pipeline (compress_pipeline.h), with a config file.
#include "commands.h"
#include "common.h"
#include "compress_pipeline.h"
#include "image_split.h"
#include "output.h"

namespace sqz::cli {

int cmd_compress(int argc, char** argv) {
  GlobalFlags flags;
  CompressSettings s;
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
      "granularity", po::value(&s.granularity)->default_value("weight"),
      "weight | kernel (k x k layers keep or lose whole kernels)")(
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
      "init", po::value(&s.init)->default_value("linear"), "k-means: linear | kmeans++ | exact")(
      "half-floats", po::bool_switch(&s.half_floats),
      "store biases and codebooks as IEEE binary16 (format 1.1; 1.0 readers reject the file)")(
      "int8-biases", po::bool_switch(&s.int8_biases),
      "store biases as 8-bit (scale x int8) and codebooks as binary16 (format 1.2)");
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
  if (auto unit = parse_granularity(s.granularity); !unit.is_ok())
    return usage_error("compress", unit.status().message());
  if (auto widths = parse_widths(s.widths); !widths.is_ok())
    return usage_error("compress", widths.status().message());
  if (Status st = check_output_path(s.out, s.force); !st.is_ok()) return fail(st);
  auto q = quantize_options(s);
  if (!q.is_ok()) return usage_error("compress", q.status().message());
  if (s.bits < 1 || s.bits > 8) return usage_error("compress", "--bits must be in 1..8");
  return run_compress(s, *q, flags);
}

}  // namespace sqz::cli
