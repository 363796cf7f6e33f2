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

// One line, e.g. "resize=square:256 crop=227x227 channels=bgr divisor=1 mean=104,117,123
// std=1,1,1" (grey: channels=grey, one mean and std); parse_preprocess reads it back exactly
// (floats printed with 9 significant digits). The grammar is strict: each of the six keys
// exactly once, no other key, values within the limits below (format/SPEC.md, "preprocess").
// Errors (kParse) name the field.
std::string describe_preprocess(const image::Preprocess& p);
Result<image::Preprocess> parse_preprocess(const std::string& text);

// Metadata key of the description in a .sqz.
inline constexpr const char* kPreprocessKey = "preprocess";

// Limits of a description, whether given as options or read from a file (a record is checked
// like options: one a reader refuses is never written). The resize of a square or
// shorter-side mode lies between the crop and max_resize(): a larger one only costs memory
// (a 16384 resize decodes to 800 MB per image). Divisor, std and |mean| bounds keep every
// input finite ((255 / divisor - mean) / std < 1e13).
inline constexpr float kMinDivisor = 1e-3f, kMinStd = 1e-6f, kMaxScale = 1e6f;
inline constexpr int kMaxResizeFloor = 1024;
inline constexpr size_t kMaxPreprocessText = 1024;
// The largest resize for a crop: 4 x its longer side, at least kMaxResizeFloor, at most
// image::kMaxSide.
int max_resize(int crop_h, int crop_w);

// The description a .sqz records ("" when none). kCorrupt when it records more than one (or
// an empty one): which the model was trained with would be a guess.
Result<std::string> recorded_preprocess(const format::Metadata& metadata);

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
