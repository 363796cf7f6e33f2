// The size/accuracy report: what `report` measures, and its renderings (Markdown, JSON,
// self-contained HTML with SVG charts).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "sqz/format/sqz_file.h"
#include "sqz/pipeline/observer.h"
#include "sqz/pipeline/preprocessing.h"
#include "sqz/pipeline/stage_table.h"

namespace sqz::pipeline {

// One .sqz measured on images it was not calibrated on.
struct ModelPoint {
  std::string path;
  int64_t bytes = 0;
  int64_t images = 0;    // held-out images measured
  int64_t excluded = 0;  // images skipped because the model was calibrated on them
  double top1 = -1, top5 = -1, agreement = -1, mean_kl = -1;
  double reference_top1 = -1, reference_top5 = -1;  // the reference on the same images
  int64_t target_bytes = 0;  // the target compress aimed at (recorded in the file), 0: none
  // How the file was made apart from which images calibrated it: its recorded source
  // fingerprint and pipeline summary without the calibration image count ("" when unrecorded).
  std::string recipe;
  // Per held-out image, model and reference: -1 unlabelled, else 1 (top-1 right) | 2 (top-5).
  std::vector<int8_t> hits, reference_hits;
};

// Files made the same way towards the same target (the calibration folds of one frontier
// point), pooled: every (file, held-out image) pair counts once, model and reference on the
// same image.
struct PooledPoint {
  int64_t target_bytes = 0;
  std::vector<size_t> points;  // indices into ReportData::points
  int64_t max_bytes = 0;       // the largest file of the group
  int64_t images = 0;          // labelled (file, image) pairs
  double delta_top1 = 0, delta_top5 = 0;  // model minus reference, fractions
  // Paired bootstrap 95% intervals of the deltas (percentile; the pairs resampled).
  double top1_lo = 0, top1_hi = 0, top5_lo = 0, top5_hi = 0;
  double agreement = -1, mean_kl = -1;  // weighted by each file's images
};

// Groups the measured points by target and recipe (points without a target, or without a
// reference on labelled images, are left out), in ascending target. Deterministic for a seed.
std::vector<PooledPoint> pool_points(const std::vector<ModelPoint>& points, int resamples = 2000,
                                     uint64_t seed = 1);

// One row of the per-layer ledger: bytes by part, summing (with the file rows) to the file.
struct LedgerLine {
  std::string layer;
  int64_t weights = 0, nonzeros = 0;
  int bits = 0;  // 0: float32
  int64_t header = 0, bias = 0, codebook = 0, positions = 0, values = 0;
  std::string position_coding;
  int64_t total() const { return header + bias + codebook + positions + values; }
};

struct ReportData {
  std::string model_path, reference_path;
  format::SqzFile file;            // the first model
  std::vector<StageRow> stages;    // dense float32 -> pruned -> quantized -> .sqz
  std::vector<LedgerLine> layers;  // per convolution
  std::vector<std::pair<std::string, int64_t>> file_parts;  // header, directory, graph, ...
  std::vector<ModelPoint> points;  // every model given, the first one first
  std::vector<PooledPoint> pooled;  // points grouped by target (with a reference)
  int64_t images = 0;              // held-out images behind the first model's accuracy
};

// What report measures: files (the first described in full), the uncompressed reference (for
// agreement and KL; needs images), and the labelled images to measure on (each model skips
// the images it was calibrated on; any layout list_dataset reads). labels: class list ("" =
// synsets.txt beside the folder, when present); limit > 0 keeps the first `limit` images.
// preprocess: how images become inputs (else what the first file records, else Caffe's);
// force: use it even where it disagrees with the recorded description.
struct ReportOptions {
  std::vector<std::string> models;
  std::string reference, prototxt, images, labels, label_file;
  int limit = 0, threads = 1;
  std::optional<PreprocessSpec> preprocess;
  bool force = false;
  image::DecodeOptions decode;  // how image files are read (budget, truncated JPEGs)
};

// Reads every file and measures it. Errors: unreadable files, images or reference; a model
// calibrated on every image given (nothing to measure it on).
Result<ReportData> build_report(const ReportOptions& options, Observer* observer);

// Renderings of the report.
std::string report_markdown(const ReportData& r);
std::string report_json(const ReportData& r);
std::string report_html(const ReportData& r);
// The accuracy-against-size chart alone (an <svg> document).
std::string report_accuracy_svg(const ReportData& r);

}  // namespace sqz::pipeline
