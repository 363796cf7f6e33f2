// The preprocessing a user describes (a preset and overrides), resolved against a network's
// input shape, and its one-line text form (recorded in .sqz metadata, shown by info).
#pragma once

#include <array>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sqz/core/graph.h"
#include "sqz/core/status.h"
#include "sqz/format/sqz_file.h"
#include "sqz/image/image.h"
#include "sqz/image/record.h"

namespace sqz::pipeline {

enum class PreprocessPreset { kCaffe, kTorchvision };

// Every field left empty takes the preset's value. The crop is always the network's input.
struct PreprocessSpec {
  PreprocessPreset preset = PreprocessPreset::kCaffe;
  std::optional<image::ResizeMode> resize_mode;
  std::optional<int> resize;
  std::optional<bool> bgr;
  std::optional<float> divisor;
  std::optional<std::array<float, 3>> mean, std;
};

// The preprocessing for a network input of (C, H, W) with C = 1 (grey: mean 0 and std 1
// unless given, the first value of each used) or 3. kUnsupported for other inputs;
// kInvalidArgument for sizes out of range, a zero std or divisor.
Result<image::Preprocess> preprocess_for(const Shape& chw, const PreprocessSpec& spec = {});

// "caffe" -> kCaffe, "torchvision" -> kTorchvision; "square" / "shorter" / "none" resize
// modes. kInvalidArgument naming the accepted words.
Result<PreprocessPreset> parse_preset(const std::string& text);
Result<image::ResizeMode> parse_resize_mode(const std::string& text);

// The record's text form, its limits and its parser live with the image library (so that a
// program that only runs .sqz files can follow them): sqz/image/record.h.
using image::describe_preprocess;
using image::kMaxPreprocessText;
using image::kMaxResizeFloor;
using image::kMaxScale;
using image::kMinDivisor;
using image::kMinStd;
using image::kPreprocessKey;
using image::max_resize;
using image::parse_preprocess;
using image::recorded_preprocess;

// Where a model's preprocessing came from.
enum class PreprocessSource {
  kGiven,       // the caller's spec (flags)
  kRecorded,    // the model file's own description
  kCaffeModel,  // Caffe's convention, for a Caffe-trained form (.caffemodel, .prototxt, .net)
  kAssumed,     // Caffe's convention for want of anything else: say so to the user
};

struct ResolvedPreprocess {
  image::Preprocess pre;
  PreprocessSource source;
};

// The preprocessing to run a model with input (C, H, W): the given spec, else the recorded
// description, else Caffe's. A spec that disagrees with a recorded description is kConflict
// (naming both) unless `force`. A recorded description whose crop or channels
// do not match the input is kCorrupt.
Result<ResolvedPreprocess> resolve_preprocess(const Shape& chw,
                                              const std::optional<PreprocessSpec>& given,
                                              const std::string& recorded, bool caffe_model,
                                              bool force);

// Whether a model file is a Caffe-trained form, by extension (.caffemodel, .prototxt, .net).
bool is_caffe_model_path(const std::string& path);

}  // namespace sqz::pipeline
