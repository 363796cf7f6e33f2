// The whole Deep Compression pipeline on one model, in memory: import -> [prune -> distil the
// surviving weights] -> k-means weight sharing (fixed widths, or widths allocated towards a
// target file size) -> distil the shared centroids and biases on unlabeled calibration images
// -> Huffman -> .sqz bytes, then both models measured on held-out images the pipeline never saw.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sqz/core/graph.h"
#include "sqz/core/status.h"
#include "sqz/format/sqz_file.h"
#include "sqz/import/importers.h"
#include "sqz/pipeline/block_reconstruction.h"
#include "sqz/pipeline/calibrate.h"
#include "sqz/pipeline/image_split.h"
#include "sqz/pipeline/observer.h"
#include "sqz/pipeline/preprocessing.h"
#include "sqz/pipeline/retrain.h"
#include "sqz/prune/prune.h"
#include "sqz/quantize/gptq.h"
#include "sqz/quantize/quantize.h"
#include "sqz/report/stage_table.h"

namespace sqz::pipeline {

using report::StageRow;

// 8-bit biases and binary16 codebooks (format 1.2): CompressOptions::encoding's default.
inline format::SqzEncodeOptions compact_floats() {
  format::SqzEncodeOptions e;
  e.int8_biases = true;
  return e;
}

struct CompressOptions {
  std::string model_path, prototxt;     // the input model (prototxt for .caffemodel and .net)
  import::ImportOptions import;         // e.g. the input shape where the file leaves it symbolic
  std::string output_name = "out.sqz";  // names the output in the stage table only
  int threads = 1;
  uint64_t seed = 1;  // crops, order and k-means++ (quantize.seed is set from it)

  // Pruning: off unless density > 0 or layer_density is not empty (the model's zeros stay
  // pruned either way). One global magnitude threshold to `density` of all weights.
  PruneTarget pruning;
  int retrain_steps = 300;  // distillation steps on the surviving weights (needs calibration)

  // Weight sharing: quantize.bits and quantize.layer_bits, or widths chosen per layer from
  // `widths` (ascending, 1..8) so that the file fits target_bytes (> 0), measured on
  // probe_images calibration images; with half_widths also the codebook sizes half a bit
  // between two consecutive widths (bit_allocation.h's codebook_sizes).
  quantize::QuantizeOptions quantize;
  int64_t target_bytes = 0;
  std::vector<int> widths = {3, 4, 5, 6, 7, 8};
  bool half_widths = false;  // measured: mixed on SqueezeNet v1.0 (docs/tutorial.md, "Half widths")
  int probe_images = 24;
  // Codes (which centroid each weight takes) by error compensation under each layer's input
  // moments from moment_images calibration images (quantize::assign_codes), or, off or without
  // calibration images, the nearest centroid. The images are centre crops, and mirrored too
  // when calibration.augment. The late layers (up to 576 inputs on 169 positions an image) are
  // short of samples with few images: at 370,000 bytes on the release SqueezeNet, 128 images
  // gave the held-out KL 0.021, 250 gave 0.016, 250 and their mirrors 0.015 (docs/tutorial.md). The
  // sequential codes' time grows with the images: 256 and their mirrors take ~7 minutes there.
  bool error_compensation = true;
  int moment_images = 256;
  // With error_compensation: after the widths are found, share again layer after layer, each
  // layer's codes and bias against the uncompressed network's output given the inputs the
  // layers before it now produce (share_weights_sequential) on the same moment_images.
  bool sequential = true;
  // With error_compensation: each codebook refitted to its codes under the same statistics
  // (quantize::refit_codebook), codes and codebook alternated twice. Off: measured no better
  // on the release SqueezeNet at 400,000 bytes (docs/tutorial.md).
  bool refit_codebook = false;
  // The end-to-end calibration after sequential codes: off unless asked for. Measured on
  // the release SqueezeNet at 400,000 bytes, 250 held-out images per half, it moved the KL
  // from the input model from 0.0124 to 0.0140 and from 0.0120 to 0.0142: the layer-wise
  // targets leave it nothing to gain on unseen images that the few calibration images can
  // teach (the front ends turn it on when calibration steps are given explicitly).
  bool calibrate_after_sequential = false;
  // Block reconstruction after sequential codes (block_reconstruction.h), on the first
  // blocks.images calibration images (mirrored when calibration.augment): blocks.steps 0 turns
  // it off. Its threads and seed are set from the fields above.
  BlockOptions blocks;
  quantize::GptqOptions gptq;
  // Its float codings (metadata is the pipeline's own). By default biases as 8-bit and
  // codebooks as binary16 (format 1.2): at 400,000 bytes the 15.6 KB this saves over float32
  // buy wider codes, which cut the KL on held-out images by a third (docs/tutorial.md).
  format::SqzEncodeOptions encoding = compact_floats();

  // Images: calibration from calib_dir, read recursively (all, or fold calib_fold of the
  // sorted list, the other folds held out); held-out images from holdout_dir when given (flat
  // '<wnid>_' files or class sub-folders, see list_dataset). labels: class list for the
  // held-out images ("" = synsets.txt beside their folder, when present).
  std::string calib_dir, holdout_dir, labels;
  std::optional<Fold> calib_fold;
  CalibrateOptions calibration;  // its threads and seed are set from the fields above

  // How images become inputs: this spec, else what an input .sqz records, else Caffe's (with
  // a note to the observer for a model that is not a Caffe form). Recorded in the output.
  // re_record_preprocess: use and record the spec even where it disagrees with the input's
  // recorded description (a note says so); without it that is kConflict. A record that does
  // not parse or fit the input is an error either way.
  std::optional<PreprocessSpec> preprocess;
  bool re_record_preprocess = false;
  image::DecodeOptions decode;  // how image files are read (budget, truncated JPEGs)

  // Labelled retraining (pipeline/retrain.h), in place of one-shot pruning and unlabeled
  // calibration: on train_tensors when given, else on the images of train_dir (any layout
  // list_dataset reads, or train_label_file; classes from `labels`), preprocessed as above.
  // retrain holds the recipe; its pruning (density, layer_density, granularity), quantize,
  // threads and seed are taken from the fields above. With target_bytes the widths are
  // allocated first and every layer is quantized at once (retrain.pointwise_first is off).
  std::string train_dir, train_label_file;
  const LabelledTensors* train_tensors = nullptr;
  RetrainSchedule retrain;  // with pruning, quantize, threads and seed: the labelled retraining
  bool training() const { return train_tensors || !train_dir.empty(); }
};

struct CompressResult {
  Model model;  // the compressed model
  // Each shared layer's width in bits as weight sharing was given it: whole, or half a bit
  // less for the sizes half_widths adds (a codebook k-means left partly unused keeps its width).
  std::map<std::string, double> widths;
  std::string bytes;             // its .sqz file
  std::vector<StageRow> stages;  // input and output, measured on the held-out images
  int64_t holdout_images = 0;
  double seconds = 0;
};

// Checks the options that need no file (widths, bits, fold, steps); the same checks run at
// the start of compress().
Status check_compress_options(const CompressOptions& options);

// The options a front end was given, by the names it knows them by (the command line's flags
// in snake_case, Python's keywords), checked against the options they need: kInvalidArgument
// naming the first that would be ignored (`widths` without `target_bytes`, `calib_lr` without
// `calib`, `dropout` without `train`, ...), so that no option given is silently dropped.
Status check_option_dependencies(const CompressOptions& options,
                                 const std::vector<std::string>& given);

// Runs the pipeline; reports six stages to observer (may be null). Writes no file.
// Errors: any stage's, with the file it concerns; kInterrupted when the observer cancels.
Result<CompressResult> compress(const CompressOptions& options, Observer* observer);

// Parses a list of ascending widths in 1..8 ("4,5,6,7,8").
Result<std::vector<int>> parse_widths(const std::string& text);

// The name of a k-means initialisation as compress records it: linear, kmeans++ or exact.
std::string init_name(const quantize::QuantizeOptions& q);

}  // namespace sqz::pipeline
