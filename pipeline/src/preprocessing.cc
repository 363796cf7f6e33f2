#include "sqz/pipeline/preprocessing.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <sstream>

namespace sqz::pipeline {
namespace {

const char* resize_mode_name(image::ResizeMode m) {
  switch (m) {
    case image::ResizeMode::kSquare:
      return "square";
    case image::ResizeMode::kShorterSide:
      return "shorter";
    case image::ResizeMode::kNone:
      return "none";
  }
  return "square";
}

std::string floats(const float* v, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) {
    char b[32];
    std::snprintf(b, sizeof b, "%.9g", v[i]);
    out += (i ? "," : "") + std::string(b);
  }
  return out;
}

Status bad(const std::string& text, const std::string& why) {
  return Status(ErrorCode::kParse, "preprocessing '" + text + "': " + why);
}

// "a,b,c" (or "a" when n == 1) into v; false when malformed.
bool parse_floats(const std::string& text, int n, float* v) {
  std::stringstream in(text);
  int i = 0;
  for (std::string item; std::getline(in, item, ',');) {
    char* end = nullptr;
    if (i == n || item.empty()) return false;
    v[i++] = std::strtof(item.c_str(), &end);
    if (*end || !std::isfinite(v[i - 1])) return false;
  }
  return i == n;
}

// Keys of the description, each exactly once.
bool is_preprocess_key(const std::string& key) {
  for (const char* k : {"resize", "crop", "channels", "divisor", "mean", "std"})
    if (key == k) return true;
  return false;
}

// A key as it may be shown in a message: at most 32 characters, bytes outside printable
// ASCII as '?'.
std::string printable_key(const std::string& key) {
  std::string out = key.substr(0, 32);
  for (char& c : out)
    if (c < 0x20 || c > 0x7e) c = '?';
  return out;
}

bool parse_int(const std::string& text, int* v) {
  char* end = nullptr;
  const long x = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end || x < 1 || x > image::kMaxSide) return false;
  *v = static_cast<int>(x);
  return true;
}

Status parse_resize(const std::string& text, const std::string& value, image::Preprocess* p) {
  const size_t colon = value.find(':');
  auto mode = parse_resize_mode(value.substr(0, colon));
  if (!mode.is_ok() || colon == std::string::npos ||
      !parse_int(value.substr(colon + 1), &p->resize))
    return bad(text, "resize wants MODE:SIZE (square, shorter or none)");
  p->resize_mode = *mode;
  return Status::ok();
}

Status check(const image::Preprocess& p) {
  SQZ_RETURN_ERROR_IF(
      p.crop_h < 1 || p.crop_w < 1 || p.crop_h > image::kMaxSide || p.crop_w > image::kMaxSide,
      ErrorCode::kInvalidArgument, "the crop must be in 1.." + std::to_string(image::kMaxSide));
  const int crop = std::max(p.crop_h, p.crop_w);
  if (p.resize_mode == image::ResizeMode::kNone) {
    SQZ_RETURN_ERROR_IF(p.resize < 1 || p.resize > image::kMaxSide, ErrorCode::kInvalidArgument,
                        "the resize must be in 1.." + std::to_string(image::kMaxSide));
  } else {
    const int most = max_resize(p.crop_h, p.crop_w);
    SQZ_RETURN_ERROR_IF(p.resize < crop || p.resize > most, ErrorCode::kInvalidArgument,
                        "the resize must be in " + std::to_string(crop) + ".." +
                            std::to_string(most) + " for a " + std::to_string(p.crop_w) + "x" +
                            std::to_string(p.crop_h) + " crop, not " + std::to_string(p.resize));
  }
  SQZ_RETURN_ERROR_IF(
      !(p.divisor >= kMinDivisor && p.divisor <= kMaxScale), ErrorCode::kInvalidArgument,
      "the pixel divisor must be in " + floats(&kMinDivisor, 1) + ".." + floats(&kMaxScale, 1));
  for (int c = 0; c < p.channels; ++c) {
    SQZ_RETURN_ERROR_IF(!(p.std[c] >= kMinStd && p.std[c] <= kMaxScale),
                        ErrorCode::kInvalidArgument,
                        "the std must be in " + floats(&kMinStd, 1) + ".." + floats(&kMaxScale, 1) +
                            ", not " + floats(&p.std[c], 1));
    SQZ_RETURN_ERROR_IF(!(std::fabs(p.mean[c]) <= kMaxScale), ErrorCode::kInvalidArgument,
                        "the mean must be in -" + floats(&kMaxScale, 1) + ".." +
                            floats(&kMaxScale, 1) + ", not " + floats(&p.mean[c], 1));
  }
  return Status::ok();
}

}  // namespace

Result<PreprocessPreset> parse_preset(const std::string& text) {
  if (text == "caffe") return PreprocessPreset::kCaffe;
  if (text == "torchvision") return PreprocessPreset::kTorchvision;
  return Status(ErrorCode::kInvalidArgument,
                "--preprocess must be caffe or torchvision, not '" + text + "'");
}

Result<image::ResizeMode> parse_resize_mode(const std::string& text) {
  if (text == "square") return image::ResizeMode::kSquare;
  if (text == "shorter") return image::ResizeMode::kShorterSide;
  if (text == "none") return image::ResizeMode::kNone;
  return Status(ErrorCode::kInvalidArgument,
                "--resize-mode must be square, shorter or none, not '" + text + "'");
}

Result<image::Preprocess> preprocess_for(const Shape& chw, const PreprocessSpec& spec) {
  if (chw.size() != 3 || (chw[0] != 3 && chw[0] != 1) || chw[1] < 1 || chw[2] < 1 ||
      chw[1] > image::kMaxSide || chw[2] > image::kMaxSide)
    return Status(ErrorCode::kUnsupported,
                  "image input needs a 1- or 3-channel network input (C, H, W), this one is " +
                      shape_to_string(chw));
  const int h = static_cast<int>(chw[1]), w = static_cast<int>(chw[2]);
  image::Preprocess p = spec.preset == PreprocessPreset::kTorchvision
                            ? image::torchvision_preprocess(h, w)
                            : image::caffe_preprocess(h, w);
  p.channels = static_cast<int>(chw[0]);
  if (p.channels == 1) p.mean[0] = 0, p.std[0] = 1;
  if (spec.resize_mode) p.resize_mode = *spec.resize_mode;
  if (spec.resize) p.resize = *spec.resize;
  if (spec.bgr) p.bgr = *spec.bgr;
  if (spec.divisor) p.divisor = *spec.divisor;
  if (spec.mean) std::copy(spec.mean->begin(), spec.mean->end(), p.mean);
  if (spec.std) std::copy(spec.std->begin(), spec.std->end(), p.std);
  SQZ_RETURN_IF_ERROR(check(p));
  return p;
}

std::string describe_preprocess(const image::Preprocess& p) {
  const int n = p.channels;
  return std::string("resize=") + resize_mode_name(p.resize_mode) + ":" + std::to_string(p.resize) +
         " crop=" + std::to_string(p.crop_w) + "x" + std::to_string(p.crop_h) + " channels=" +
         (n == 1  ? "grey"
          : p.bgr ? "bgr"
                  : "rgb") +
         " divisor=" + floats(&p.divisor, 1) + " mean=" + floats(p.mean, n) +
         " std=" + floats(p.std, n);
}

Result<image::Preprocess> parse_preprocess(const std::string& text) {
  SQZ_RETURN_ERROR_IF(text.size() > kMaxPreprocessText, ErrorCode::kLimit,
                      "preprocessing description of " + std::to_string(text.size()) +
                          " bytes, more than the limit of " + std::to_string(kMaxPreprocessText));
  image::Preprocess p;
  std::istringstream in(text);
  std::map<std::string, std::string> fields;
  for (std::string field; in >> field;) {
    const size_t eq = field.find('=');
    if (eq == std::string::npos) return bad(text, "'" + field + "' is not key=value");
    const std::string key = field.substr(0, eq);
    if (!is_preprocess_key(key)) return bad(text, "unknown field '" + printable_key(key) + "'");
    if (!fields.emplace(key, field.substr(eq + 1)).second)
      return bad(text, "field '" + key + "' given twice");
  }
  if (fields.size() != 6) return bad(text, "wants resize, crop, channels, divisor, mean and std");
  SQZ_RETURN_IF_ERROR(parse_resize(text, fields["resize"], &p));
  const std::string& crop = fields["crop"];
  const size_t x = crop.find('x');
  if (x == std::string::npos || !parse_int(crop.substr(0, x), &p.crop_w) ||
      !parse_int(crop.substr(x + 1), &p.crop_h))
    return bad(text, "crop wants WxH");
  const std::string& channels = fields["channels"];
  if (channels != "grey" && channels != "rgb" && channels != "bgr")
    return bad(text, "channels must be grey, rgb or bgr");
  p.channels = channels == "grey" ? 1 : 3;
  p.bgr = channels == "bgr";
  if (!parse_floats(fields["divisor"], 1, &p.divisor)) return bad(text, "divisor wants a number");
  if (!parse_floats(fields["mean"], p.channels, p.mean) ||
      !parse_floats(fields["std"], p.channels, p.std))
    return bad(text, "mean and std want one number per channel");
  if (Status s = check(p); !s.is_ok()) return bad(text, s.message());
  return p;
}

Result<std::string> recorded_preprocess(const format::Metadata& metadata) {
  std::string out;
  int count = 0;
  for (const auto& [key, value] : metadata)
    if (key == kPreprocessKey) out = value, ++count;
  SQZ_RETURN_ERROR_IF(count > 1, ErrorCode::kCorrupt,
                      "the file records its preprocessing " + std::to_string(count) +
                          " times; which one the model was trained with is unknown");
  SQZ_RETURN_ERROR_IF(count == 1 && out.empty(), ErrorCode::kCorrupt,
                      "the file records an empty preprocessing description");
  return out;
}

int max_resize(int crop_h, int crop_w) {
  return std::min(image::kMaxSide, std::max(kMaxResizeFloor, 4 * std::max(crop_h, crop_w)));
}

bool is_caffe_model_path(const std::string& path) {
  std::string ext = path.substr(
      path.find_last_of('.') == std::string::npos ? path.size() : path.find_last_of('.'));
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext == ".caffemodel" || ext == ".prototxt" || ext == ".net";
}

Result<ResolvedPreprocess> resolve_preprocess(const Shape& chw,
                                              const std::optional<PreprocessSpec>& given,
                                              const std::string& recorded, bool caffe_model,
                                              bool force) {
  std::optional<image::Preprocess> from_file;
  if (!recorded.empty()) {
    SQZ_ASSIGN_OR_RETURN(image::Preprocess p, parse_preprocess(recorded));
    SQZ_RETURN_ERROR_IF(
        chw.size() != 3 || p.channels != chw[0] || p.crop_h != chw[1] || p.crop_w != chw[2],
        ErrorCode::kCorrupt,
        "the recorded preprocessing '" + recorded + "' does not fit the network's input " +
            shape_to_string(chw));
    from_file = p;
  }
  if (given) {
    SQZ_ASSIGN_OR_RETURN(image::Preprocess p, preprocess_for(chw, *given));
    SQZ_RETURN_ERROR_IF(from_file && !force && describe_preprocess(p) != recorded,
                        ErrorCode::kConflict,
                        "the model records its preprocessing as '" + recorded +
                            "'; the options ask for '" + describe_preprocess(p) + "'");
    return ResolvedPreprocess{p, PreprocessSource::kGiven};
  }
  if (from_file) return ResolvedPreprocess{*from_file, PreprocessSource::kRecorded};
  SQZ_ASSIGN_OR_RETURN(image::Preprocess p, preprocess_for(chw));
  return ResolvedPreprocess{
      p, caffe_model ? PreprocessSource::kCaffeModel : PreprocessSource::kAssumed};
}

}  // namespace sqz::pipeline
