#include "sqz/pipeline/model_io.h"

#include <cstdio>
#include <filesystem>

#include "sqz/core/file_io.h"
#include "sqz/core/version.h"
#include "sqz/import/exporters.h"
#include "sqz/import/importers.h"
#include "sqz/pipeline/image_split.h"

namespace sqz::pipeline {
namespace {

std::string replace_extension(const std::string& path, const std::string& ext) {
  return std::filesystem::path(path).replace_extension(ext).string();
}

std::string fnv1a64_hex(const std::string& bytes) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : bytes) h = (h ^ c) * 1099511628211ull;
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

}  // namespace

Result<Model> load_any_model(const std::string& path, const std::string& prototxt,
                             format::Metadata* metadata, const import::ImportOptions& options) {
  return import::load_model(path, prototxt, options, metadata);
}

format::Metadata standard_metadata(const std::string& source_path, const std::string& pipeline) {
  format::Metadata md{{"producer", kProducer},
                      {"source", std::filesystem::path(source_path).filename().string()}};
  auto bytes = read_file(source_path);
  if (bytes.is_ok()) md.push_back({"source_fnv1a64", fnv1a64_hex(*bytes)});
  md.push_back({"pipeline", pipeline});
  return md;
}

Result<format::Metadata> stage_output_metadata(const std::string& model_path, const Model& model,
                                               const format::Metadata& input_metadata,
                                               const std::optional<PreprocessSpec>& spec,
                                               bool re_record, const std::string& pipeline,
                                               std::string* notice) {
  format::Metadata md = standard_metadata(model_path, pipeline);
  carry_calibration_fingerprints(input_metadata, &md);
  notice->clear();
  auto recorded = recorded_preprocess(input_metadata);
  if (!recorded.is_ok()) return recorded.status().with_context(model_path);
  const Shape& in = model.input_shape;
  const Shape chw = in.size() == 4 ? Shape{in[1], in[2], in[3]} : in;
  auto r = resolve_preprocess(chw, spec, *recorded, is_caffe_model_path(model_path), re_record);
  if (!r.is_ok()) {
    if (spec || !recorded->empty()) return r.status().with_context(model_path);
    return md;
  }
  const std::string described = describe_preprocess(r->pre);
  if (!recorded->empty() && described != *recorded)
    *notice = model_path + " recorded the preprocessing '" + *recorded + "'; the output records '" +
              described + "' instead";
  if (r->source != PreprocessSource::kAssumed) md.push_back({kPreprocessKey, described});
  return md;
}

Status write_model(const Model& model, const std::string& out,
                   const format::SqzEncodeOptions& encoding, bool overwrite,
                   format::SqzFile* file) {
  const std::string ext = std::filesystem::path(out).extension().string();
  const format::Metadata& metadata = encoding.metadata;
  if (ext == ".sqz") {
    std::string bytes;
    SQZ_ASSIGN_OR_RETURN(format::SqzFile f, format::encode_sqz(model, encoding, &bytes));
    SQZ_RETURN_IF_ERROR(write_file_atomic(out, bytes, overwrite));
    if (file) *file = std::move(f);
    return Status::ok();
  }
  if (ext == ".onnx") {
    auto bytes = import::export_onnx(model, metadata);
    if (!bytes.is_ok()) return bytes.status().with_context(out);
    return write_file_atomic(out, *bytes, overwrite);
  }
  if (ext == ".caffemodel") {
    const std::string proto_path = replace_extension(out, ".prototxt");
    auto weights = import::export_caffemodel(model);
    if (!weights.is_ok()) return weights.status().with_context(out);
    auto proto = import::export_caffe_prototxt(model);
    if (!proto.is_ok()) return proto.status().with_context(proto_path);
    SQZ_RETURN_IF_ERROR(write_file_atomic(out, *weights, overwrite));
    // Both files or neither: a network definition that cannot be written takes its weights.
    if (Status s = write_file_atomic(proto_path, *proto, overwrite); !s.is_ok()) {
      std::error_code ec;
      std::filesystem::remove(out, ec);
      return s;
    }
    return Status::ok();
  }
  return Status(ErrorCode::kInvalidArgument,
                out + ": unknown output format '" + ext + "' (use .sqz, .onnx or .caffemodel)");
}

}  // namespace sqz::pipeline
