// The options about a model that many commands share: preprocessing, input shape, and what
// a written .sqz records.
#include "model_options.h"

#include <array>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "sqz/core/file_io.h"

namespace sqz::cli {

void add_preprocess_options(po::options_description& options, PreprocessFlags* f,
                            bool decodes_images) {
  po::options_description pre("preprocessing (default: what the model records, else caffe)");
  pre.add_options()("preprocess", po::value(&f->preset),
                    "preset: caffe (resize 256x256, BGR, minus 104,117,123) | torchvision "
                    "(shorter side 8/7 of the crop, RGB, /255, ImageNet mean and std)")(
      "resize", ranged(&f->resize, 1, image::kMaxSide, "resize"),
      "resize to this size before the centre crop")(
      "resize-mode", po::value(&f->resize_mode),
      "square (both sides) | shorter (shorter side, aspect kept) | none")(
      "channel-order", po::value(&f->channel_order), "rgb | bgr")(
      "pixel-divisor",
      ranged(&f->divisor, pipeline::kMinDivisor, pipeline::kMaxScale, "pixel-divisor"),
      "pixels (0..255) are divided by this first")(
      "mean", po::value(&f->mean), "per-channel mean subtracted next: A,B,C (grey: A)")(
      "std", po::value(&f->std), "per-channel std divided by last: A,B,C (grey: A)");
  if (decodes_images)
    pre.add_options()("allow-truncated-images", po::bool_switch(&f->allow_truncated),
                      "accept JPEGs that end early or have corrupt data (libjpeg's warning; "
                      "grey fill)");
  options.add(pre);
}

std::string given_preprocess_flag(const po::variables_map& vm) {
  return first_given(vm, {"preprocess", "resize", "resize-mode", "channel-order", "pixel-divisor",
                          "mean", "std", "allow-truncated-images"});
}

void add_record_option(po::options_description& options, PreprocessFlags* f) {
  options.add_options()("re-record-preprocess", po::bool_switch(&f->re_record),
                        "record the preprocessing options in the output even where the input "
                        "records another (a note says so)");
}

namespace {

// "a,b,c" or "a" (used for every channel).
Result<std::array<float, 3>> channel_values(const std::string& text, const std::string& flag) {
  std::array<float, 3> v{};
  std::vector<float> got;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    char* end = nullptr;
    got.push_back(std::strtof(item.c_str(), &end));
    if (item.empty() || *end || !std::isfinite(got.back()))
      return Status(ErrorCode::kInvalidArgument, flag + " wants A,B,C or A, not '" + text + "'");
  }
  if (got.size() != 1 && got.size() != 3)
    return Status(ErrorCode::kInvalidArgument, flag + " wants A,B,C or A, not '" + text + "'");
  for (size_t c = 0; c < 3; ++c) v[c] = got[got.size() == 1 ? 0 : c];
  return v;
}

}  // namespace

Status re_record_hint(const Status& status) {
  if (status.code() != ErrorCode::kConflict) return status;
  return Status(status.code(),
                status.message() + " (--re-record-preprocess records the options' instead)");
}

Result<std::optional<pipeline::PreprocessSpec>> preprocess_spec(const PreprocessFlags& f) {
  if (f.preset.empty() && f.resize_mode.empty() && f.channel_order.empty() && f.mean.empty() &&
      f.std.empty() && f.resize == 0 && f.divisor == 0)
    return std::optional<pipeline::PreprocessSpec>();
  pipeline::PreprocessSpec s;
  if (!f.preset.empty()) {
    SQZ_ASSIGN_OR_RETURN(s.preset, pipeline::parse_preset(f.preset));
  }
  if (!f.resize_mode.empty()) {
    SQZ_ASSIGN_OR_RETURN(s.resize_mode, pipeline::parse_resize_mode(f.resize_mode));
  }
  if (!f.channel_order.empty()) {
    SQZ_RETURN_ERROR_IF(f.channel_order != "rgb" && f.channel_order != "bgr",
                        ErrorCode::kInvalidArgument, "--channel-order must be rgb or bgr");
    s.bgr = f.channel_order == "bgr";
  }
  if (f.resize != 0) {
    SQZ_RETURN_ERROR_IF(f.resize < 1 || f.resize > image::kMaxSide, ErrorCode::kInvalidArgument,
                        "--resize must be in 1.." + std::to_string(image::kMaxSide));
    s.resize = f.resize;
  }
  if (f.divisor != 0) {
    SQZ_RETURN_ERROR_IF(!(f.divisor > 0) || !std::isfinite(f.divisor), ErrorCode::kInvalidArgument,
                        "--pixel-divisor must be positive");
    s.divisor = f.divisor;
  }
  if (!f.mean.empty()) {
    SQZ_ASSIGN_OR_RETURN(s.mean, channel_values(f.mean, "--mean"));
  }
  if (!f.std.empty()) {
    SQZ_ASSIGN_OR_RETURN(s.std, channel_values(f.std, "--std"));
    for (float v : *s.std)
      SQZ_RETURN_ERROR_IF(
          !(v >= pipeline::kMinStd && v <= pipeline::kMaxScale), ErrorCode::kInvalidArgument,
          "--std values must be in " + range_text(pipeline::kMinStd, pipeline::kMaxScale) +
              ", not '" + f.std + "'");
  }
  if (s.mean)
    for (float v : *s.mean)
      SQZ_RETURN_ERROR_IF(!(std::fabs(v) <= pipeline::kMaxScale), ErrorCode::kInvalidArgument,
                          "--mean values must be in " +
                              range_text(-pipeline::kMaxScale, pipeline::kMaxScale) + ", not '" +
                              f.mean + "'");
  return std::optional<pipeline::PreprocessSpec>(s);
}

Result<image::Preprocess> model_preprocess(const std::string& model_path, const Shape& chw,
                                           const format::Metadata& metadata,
                                           const PreprocessFlags& flags, bool force,
                                           std::string* notice) {
  SQZ_ASSIGN_OR_RETURN(auto spec, preprocess_spec(flags));
  auto recorded = pipeline::recorded_preprocess(metadata);
  if (!recorded.is_ok()) return recorded.status().with_context(model_path);
  auto r = pipeline::resolve_preprocess(chw, spec, *recorded,
                                        pipeline::is_caffe_model_path(model_path), force);
  if (!r.is_ok() && r.status().code() == ErrorCode::kConflict)
    return Status(ErrorCode::kConflict,
                  model_path + ": " + r.status().message() + " (--force runs it so anyway)");
  if (!r.is_ok()) return r.status().with_context(model_path);
  r->pre.decode.allow_truncated = flags.allow_truncated;
  notice->clear();
  if (r->source == pipeline::PreprocessSource::kAssumed)
    *notice = model_path + " records no preprocessing; assumed caffe's (" +
              pipeline::describe_preprocess(r->pre) +
              "); --preprocess torchvision or --mean/--std/--channel-order set it";
  return r->pre;
}

Result<format::Metadata> output_metadata(const std::string& model_path, const Model& model,
                                         const format::Metadata& input_metadata,
                                         const PreprocessFlags& flags, const std::string& pipeline,
                                         std::string* notice) {
  SQZ_ASSIGN_OR_RETURN(auto spec, preprocess_spec(flags));
  auto md = pipeline::stage_output_metadata(model_path, model, input_metadata, spec,
                                            flags.re_record, pipeline, notice);
  if (!md.is_ok()) return re_record_hint(md.status());
  return md;
}

void print_notice(const std::string& notice, bool quiet) {
  if (!quiet && !notice.empty())
    std::fprintf(stderr, "squeeze-compress: note: %s\n", printable(notice).c_str());
}

void add_input_shape_option(po::options_description& options, std::string* text) {
  options.add_options()("input-shape", po::value(text),
                        "N,C,H,W of the input, where the model file leaves it symbolic");
}

Result<import::ImportOptions> import_options(const std::string& text) {
  import::ImportOptions o;
  if (text.empty()) return o;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    char* end = nullptr;
    const long long v = std::strtoll(item.c_str(), &end, 10);
    SQZ_RETURN_ERROR_IF(item.empty() || *end || v < 1 || v > 65536, ErrorCode::kInvalidArgument,
                        "--input-shape wants N,C,H,W with each in 1..65536, not '" + text + "'");
    o.input_shape.push_back(v);
  }
  SQZ_RETURN_ERROR_IF(o.input_shape.size() != 4, ErrorCode::kInvalidArgument,
                      "--input-shape wants N,C,H,W, not '" + text + "'");
  return o;
}

Status require_sqz_output(const std::string& out) {
  SQZ_RETURN_ERROR_IF(file_extension(out) != ".sqz", ErrorCode::kInvalidArgument,
                      out +
                          ": this command writes a .sqz (name the output *.sqz; the decode "
                          "command writes ONNX and Caffe)");
  return Status::ok();
}

int preprocess_error(const std::string& command, const Status& status) {
  const ErrorCode c = status.code();
  return c == ErrorCode::kInvalidArgument || c == ErrorCode::kConflict
             ? usage_error(command, status.message())
             : fail(status);
}

}  // namespace sqz::cli
