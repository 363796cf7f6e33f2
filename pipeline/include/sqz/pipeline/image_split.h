// Splitting one folder of images into calibration and held-out parts, and remembering which
// images a model was calibrated on so that accuracy is never reported on them.
#pragma once

#include <string>
#include <vector>

#include "sqz/core/status.h"
#include "sqz/format/sqz_file.h"

namespace sqz::pipeline {

// "K/N": the K-th of N interleaved folds of a sorted file list (file i is in fold i % N + 1).
// held_out: fold K is the one held out and the others calibrate (k-fold cross-validation:
// K = 1..N measures every file once, each time on a model that never saw it).
struct Fold {
  int index = 1, count = 1;
  bool held_out = false;
};

// Parses "K/N" with 1 <= K <= N <= 1000; flag names the option in errors.
Result<Fold> parse_fold(const std::string& text, const std::string& flag);

// Whether the i-th item of a sorted list belongs to the fold.
inline bool in_fold(size_t i, Fold fold) {
  return static_cast<int>(i % static_cast<size_t>(fold.count)) + 1 == fold.index;
}

// Whether the i-th item of a sorted list is a calibration item under the fold.
inline bool calibrates_on(size_t i, Fold fold) { return in_fold(i, fold) != fold.held_out; }

// Files of the fold (in) and all the others (out), order kept.
void split_by_fold(const std::vector<std::string>& files, Fold fold, std::vector<std::string>* in,
                   std::vector<std::string>* out);

// Metadata key under which a .sqz lists the CRC32C of every calibration image file.
inline constexpr const char* kCalibrationKey = "calibration_images_crc32c";

// Hex CRC32C of each file's bytes, space-separated, in order.
Result<std::string> fingerprint_files(const std::vector<std::string>& files);

// Appends fingerprints (fingerprint_files' output) to metadata under kCalibrationKey, as many
// entries as it takes to keep each value within a .sqz string (4096 bytes).
void add_calibration_fingerprints(const std::string& fingerprints, format::Metadata* metadata);

// Adds to `to` the calibration fingerprints `from` lists that `to` does not list yet: a model
// made from a calibrated one was shaped by those images too, so every later stage keeps them.
void carry_calibration_fingerprints(const format::Metadata& from, format::Metadata* to);

// The files among `files` whose contents were used to calibrate the model described by
// metadata (empty when it names none).
Result<std::vector<std::string>> calibration_overlap(const format::Metadata& metadata,
                                                     const std::vector<std::string>& files);

// An error when the model (its .sqz metadata) was calibrated on any of `files`: accuracy on
// them would prove nothing.
Status refuse_calibration_images(const std::string& model_path, const format::Metadata& metadata,
                                 const std::vector<std::string>& files);

}  // namespace sqz::pipeline
