#include "sqz/image/record.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <sstream>

namespace sqz::image {
namespace {

const char* resize_mode_name(ResizeMode m) {
  switch (m) {
    case ResizeMode::kSquare:
      return "square";
    case ResizeMode::kShorterSide:
      return "shorter";
    case ResizeMode::kNone:
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
  if (text.empty() || *end || x < 1 || x > kMaxSide) return false;
  *v = static_cast<int>(x);
  return true;
}

Status parse_resize(const std::string& text, const std::string& value, Preprocess* p) {
  const size_t colon = value.find(':');
  if (colon == std::string::npos ||
      !resize_mode_from_name(value.substr(0, colon), &p->resize_mode) ||
      !parse_int(value.substr(colon + 1), &p->resize))
    return bad(text, "resize wants MODE:SIZE (square, shorter or none)");
  return Status::ok();
}

}  // namespace

Status check_preprocess(const Preprocess& p) {
  SQZ_RETURN_ERROR_IF(p.crop_h < 1 || p.crop_w < 1 || p.crop_h > kMaxSide || p.crop_w > kMaxSide,
                      ErrorCode::kInvalidArgument,
                      "the crop must be in 1.." + std::to_string(kMaxSide));
  const int crop = std::max(p.crop_h, p.crop_w);
  if (p.resize_mode == ResizeMode::kNone) {
    SQZ_RETURN_ERROR_IF(p.resize < 1 || p.resize > kMaxSide, ErrorCode::kInvalidArgument,
                        "the resize must be in 1.." + std::to_string(kMaxSide));
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

bool resize_mode_from_name(const std::string& text, ResizeMode* mode) {
  if (text == "square") return *mode = ResizeMode::kSquare, true;
  if (text == "shorter") return *mode = ResizeMode::kShorterSide, true;
  if (text == "none") return *mode = ResizeMode::kNone, true;
  return false;
}

std::string describe_preprocess(const Preprocess& p) {
  const int n = p.channels;
  return std::string("resize=") + resize_mode_name(p.resize_mode) + ":" + std::to_string(p.resize) +
         " crop=" + std::to_string(p.crop_w) + "x" + std::to_string(p.crop_h) + " channels=" +
         (n == 1  ? "grey"
          : p.bgr ? "bgr"
                  : "rgb") +
         " divisor=" + floats(&p.divisor, 1) + " mean=" + floats(p.mean, n) +
         " std=" + floats(p.std, n);
}

Result<Preprocess> parse_preprocess(const std::string& text) {
  SQZ_RETURN_ERROR_IF(text.size() > kMaxPreprocessText, ErrorCode::kLimit,
                      "preprocessing description of " + std::to_string(text.size()) +
                          " bytes, more than the limit of " + std::to_string(kMaxPreprocessText));
  Preprocess p;
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
  if (Status s = check_preprocess(p); !s.is_ok()) return bad(text, s.message());
  return p;
}

Result<std::string> recorded_preprocess(
    const std::vector<std::pair<std::string, std::string>>& metadata) {
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
  return std::min(kMaxSide, std::max(kMaxResizeFloor, 4 * std::max(crop_h, crop_w)));
}

}  // namespace sqz::image
