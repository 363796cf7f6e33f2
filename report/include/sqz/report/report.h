// The size/accuracy report as plain data (what the pipeline's build_report measures) and its
// renderings: Markdown, JSON, self-contained HTML with SVG charts.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "sqz/format/sqz_file.h"
#include "sqz/report/stage_table.h"

namespace sqz::report {

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

// Renderings of the report.
std::string report_markdown(const ReportData& r);
std::string report_json(const ReportData& r);
std::string report_html(const ReportData& r);
// The accuracy-against-size chart alone (an <svg> document).
std::string report_accuracy_svg(const ReportData& r);

}  // namespace sqz::report
