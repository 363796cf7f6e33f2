// The size/accuracy report: what `report` measures (report::ReportData; its renderings are
// the report library's).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "sqz/format/sqz_file.h"
#include "sqz/pipeline/observer.h"
#include "sqz/pipeline/preprocessing.h"
#include "sqz/report/report.h"

namespace sqz::pipeline {

using report::ModelPoint;
using report::PooledPoint;
using report::ReportData;
using report::LedgerLine;
using report::StageRow;
using report::kAlexNetBytes;

// Groups the measured points by target and recipe (points without a target, or without a
// reference on labelled images, are left out), in ascending target. Deterministic for a seed.
std::vector<PooledPoint> pool_points(const std::vector<ModelPoint>& points, int resamples = 2000,
                                     uint64_t seed = 1);

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

// The checks of options that need no file, which build_report runs first: kInvalidArgument for
// no model, a reference without images, a prototxt without a reference, and the images'
// options (labels, label_file, limit, preprocessing) without images (they would be ignored).
Status check_report_options(const ReportOptions& options);

// Reads every file and measures it. Errors: unreadable files, images or reference; a model
// calibrated on every image given (nothing to measure it on).
Result<ReportData> build_report(const ReportOptions& options, Observer* observer);

}  // namespace sqz::pipeline
