#include "sqz/pipeline/preprocessing.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <sstream>

namespace sqz::pipeline {

Result<PreprocessPreset> parse_preset(const std::string& text) {
  if (text == "caffe") return PreprocessPreset::kCaffe;
  if (text == "torchvision") return PreprocessPreset::kTorchvision;
  return Status(ErrorCode::kInvalidArgument,
                "`preprocess` must be caffe or torchvision, not '" + text + "'");
}

Result<image::ResizeMode> parse_resize_mode(const std::string& text) {
  image::ResizeMode mode;
  if (image::resize_mode_from_name(text, &mode)) return mode;
  return Status(ErrorCode::kInvalidArgument,
                "`resize_mode` must be square, shorter or none, not '" + text + "'");
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
  SQZ_RETURN_IF_ERROR(image::check_preprocess(p));
  return p;
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
