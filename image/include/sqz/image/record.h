// The one-line record of a preprocessing that a .sqz (metadata key "preprocess") or an ONNX
// file (metadata_props "squeeze_compress.preprocess") carries, so that whoever runs the model
// feeds it what it was trained on: format/SPEC.md, "preprocess", is the grammar.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "sqz/core/status.h"
#include "sqz/image/image.h"

namespace sqz::image {

// Metadata key of the record in a .sqz.
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
// kMaxSide.
int max_resize(int crop_h, int crop_w);

// kInvalidArgument (naming the field and its range) when p breaks a limit above.
Status check_preprocess(const Preprocess& p);

// "square", "shorter", "none"; false for anything else.
bool resize_mode_from_name(const std::string& text, ResizeMode* mode);

// One line, e.g. "resize=square:256 crop=227x227 channels=bgr divisor=1 mean=104,117,123
// std=1,1,1" (grey: channels=grey, one mean and std); parse_preprocess reads it back exactly
// (floats printed with 9 significant digits). The grammar is strict: each of the six keys
// exactly once, no other key, values within the limits above. Errors (kParse) name the field.
std::string describe_preprocess(const Preprocess& p);
Result<Preprocess> parse_preprocess(const std::string& text);

// The record among a file's metadata ("" when none). kCorrupt when it records more than one
// (or an empty one): which the model was trained with would be a guess.
Result<std::string> recorded_preprocess(
    const std::vector<std::pair<std::string, std::string>>& metadata);

}  // namespace sqz::image
