#include <sys/stat.h>

#include "sqz/core/file_io.h"
#include "sqz/import/importers.h"
#include "sqz/format/sqz_file.h"

namespace sqz::import {
namespace {

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

// What is at `path`: nothing, a folder, or something else (a file).
enum class Entry { kNone, kFolder, kOther };
Entry entry_at(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return Entry::kNone;
  return S_ISDIR(st.st_mode) ? Entry::kFolder : Entry::kOther;
}

std::string with_extension(const std::string& path, const std::string& ext) {
  size_t dot = path.find_last_of('.');
  size_t slash = path.find_last_of('/');
  std::string stem = (dot == std::string::npos || (slash != std::string::npos && dot < slash))
                         ? path
                         : path.substr(0, dot);
  return stem + ext;
}

Result<std::string> prototxt_for(const std::string& weights, const std::string& given) {
  if (!given.empty()) return given;
  std::string guess = with_extension(weights, ".prototxt");
  if (exists(guess)) return guess;
  return Status(ErrorCode::kInvalidArgument,
                weights + ": needs its network definition: pass `prototxt` FILE");
}

// A declared input shape replaced by the caller's (SqueezeNets are fully convolutional).
Result<Model> with_input_shape(Result<Model> m, const Shape& shape, const std::string& path) {
  if (!m.is_ok() || shape.empty()) return m;
  SQZ_RETURN_ERROR_IF(shape.size() != 4, ErrorCode::kInvalidArgument,
                      "the input shape must be N,C,H,W");
  m->input_shape = shape;
  if (auto s = validate_and_infer(*m); !s.is_ok()) return s.status().with_context(path);
  return m;
}

}  // namespace

Result<Model> load_model(const std::string& path, const std::string& prototxt_path,
                         const ImportOptions& options, format::Metadata* metadata) {
  if (metadata) metadata->clear();
  const Entry entry = entry_at(path);  // one stat
  if (entry == Entry::kNone)
    return Status(ErrorCode::kIo, path + ": cannot open: No such file or directory");
  if (entry == Entry::kFolder)
    return Status(ErrorCode::kInvalidArgument, path + ": is a folder, not a model file");
  const std::string ext = file_extension(path);
  // A network definition completes a Caffe weights file only; beside any other form it would
  // be ignored, and the user meant some model it describes.
  SQZ_RETURN_ERROR_IF(!prototxt_path.empty() && ext != ".caffemodel" && ext != ".net",
                      ErrorCode::kInvalidArgument,
                      prototxt_path +
                          ": a network definition is for a .caffemodel or .net model, "
                          "not for " +
                          path);
  if (ext == ".onnx") return import_onnx(path, options, metadata);
  if (ext == ".sqz") {
    format::SqzDecodeOptions decode;
    decode.dense_weights = !options.sqz_codes_only;
    SQZ_ASSIGN_OR_RETURN(format::SqzFile f, format::read_sqz(path, decode));
    if (metadata) *metadata = std::move(f.metadata);
    return with_input_shape(std::move(f.model), options.input_shape, path);
  }
  if (ext == ".caffemodel" || ext == ".net") {
    SQZ_ASSIGN_OR_RETURN(std::string proto, prototxt_for(path, prototxt_path));
    return with_input_shape(
        ext == ".net" ? import_deep_compression_net(proto, path) : import_caffe(proto, path),
        options.input_shape, path);
  }
  if (ext == ".prototxt") {
    for (const char* weights_ext : {".caffemodel", ".net"}) {
      std::string weights = with_extension(path, weights_ext);
      if (exists(weights)) return load_model(weights, path, options, metadata);
    }
    return Status(ErrorCode::kInvalidArgument,
                  path +
                      ": no weights beside it: give the .caffemodel or .net file as MODEL "
                      "and this file with `prototxt`");
  }
  if (ext == ".pt" || ext == ".pth")
    return Status(ErrorCode::kUnsupported,
                  path + ": a PyTorch checkpoint is not read; export the model to ONNX first "
                         "(torch.onnx.export(model.eval(), example_input, \"model.onnx\"))");
  return Status(ErrorCode::kUnsupported,
                path + ": unknown model format '" + ext +
                    "' (expected .onnx, .caffemodel, .net, .prototxt or .sqz)");
}

}  // namespace sqz::import
