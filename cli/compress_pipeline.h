// The compress pipeline's stages (see cmd_compress.cc for the command line).
#pragma once

#include <string>
#include <vector>

#include "calibrate.h"
#include "common.h"
#include "sqz/quantize/quantize.h"

namespace sqz::cli {

struct CompressSettings {
  std::string model, prototxt, out, config;
  bool force = false;
  int threads = 1;
  uint64_t seed = 1;
  // pruning
  double density = 0;
  std::vector<std::string> layer_density;
  std::string granularity = "weight";
  int retrain_steps = 300;
  // weight sharing
  int bits = 6;
  std::vector<std::string> layer_bits;
  int64_t target_bytes = 0;
  int probe_images = 24;
  std::string widths = "3,4,5,6,7,8";
  std::string init = "linear";
  bool half_floats = false;  // biases and codebooks as binary16 (format 1.1)
  bool int8_biases = false;  // 8-bit biases, binary16 codebooks (format 1.2)
  // calibration
  std::string calib, calib_split, holdout, labels;
  CalibrateOptions calibration;
};

// Checks and converts the weight-sharing settings (before any work).
Result<quant::QuantizeOptions> quantize_options(const CompressSettings& s);
// Parses --widths ("4,5,6,7,8": ascending, in 1..8).
Result<std::vector<int>> parse_widths(const std::string& text);

// The encoder options for the float codings the settings ask for.
format::SqzEncodeOptions float_codings(const CompressSettings& s);

// Runs the whole pipeline, prints the table; returns the exit code.
int run_compress(const CompressSettings& s, const quant::QuantizeOptions& q,
                 const GlobalFlags& flags);

}  // namespace sqz::cli
