#include "sqz/pipeline/retrain_command.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "sqz/core/file_io.h"
#include "sqz/format/exporters.h"
#include "sqz/format/importers.h"

namespace sqz::pipeline {
namespace {

std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size()))
    s.replace(p, from.size(), to);
}

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "sqz-retrain-XXXXXX").string();
    if (::mkdtemp(tmpl.data())) path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

Model mask_model(const Model& m) {
  Model masks = m;
  for (Layer& l : masks.layers) {
    if (l.op != OpKind::kConvolution) continue;
    for (size_t i = 0; i < l.weight.data.size(); ++i)
      l.weight.data[i] = (l.mask.empty() || l.mask[i]) ? 1.0f : 0.0f;
    l.mask.clear();
    l.quant = {};
  }
  return masks;
}

}  // namespace

CommandRetrainHook::CommandRetrainHook(std::string command, bool verbose)
    : command_(std::move(command)), verbose_(verbose) {}

Status copy_trained_weights(const Model& trained, Model& model, const std::string& source) {
  std::vector<const Layer*> from;
  for (const Layer& l : trained.layers)
    if (l.op == OpKind::kConvolution) from.push_back(&l);
  size_t k = 0;
  for (Layer& l : model.layers) {
    if (l.op != OpKind::kConvolution) continue;
    SQZ_RETURN_ERROR_IF(k >= from.size(), ErrorCode::kShapeMismatch,
                        source + ": has fewer convolution layers than the model");
    const Layer& t = *from[k++];
    SQZ_RETURN_ERROR_IF(
        t.weight.shape != l.weight.shape || t.bias.shape != l.bias.shape, ErrorCode::kShapeMismatch,
        source + ": layer '" + l.name + "' weight shape " + shape_to_string(t.weight.shape) +
            " differs from the model's " + shape_to_string(l.weight.shape));
    l.weight.data = t.weight.data;
    l.bias.data = t.bias.data;
  }
  SQZ_RETURN_ERROR_IF(k != from.size(), ErrorCode::kShapeMismatch,
                      source + ": has more convolution layers than the model");
  return Status::ok();
}

Status CommandRetrainHook::retrain(Model& model, int step, int steps, bool after_quantization) {
  TempDir dir;
  SQZ_RETURN_ERROR_IF(dir.path().empty(), ErrorCode::kIo, "cannot create a temporary folder");
  const std::string in = dir.path() + "/model.onnx", out = dir.path() + "/retrained.onnx",
                    masks = dir.path() + "/masks.onnx";
  SQZ_ASSIGN_OR_RETURN(std::string model_bytes, format::export_onnx(model));
  SQZ_ASSIGN_OR_RETURN(std::string mask_bytes, format::export_onnx(mask_model(model)));
  SQZ_RETURN_IF_ERROR(write_file_atomic(in, model_bytes, true));
  SQZ_RETURN_IF_ERROR(write_file_atomic(masks, mask_bytes, true));
  std::string cmd = command_;
  replace_all(cmd, "{in}", shell_quote(in));
  replace_all(cmd, "{out}", shell_quote(out));
  replace_all(cmd, "{masks}", shell_quote(masks));
  replace_all(cmd, "{step}", std::to_string(step));
  if (verbose_)
    std::fprintf(stderr, "retrain %s%d/%d: %s\n", after_quantization ? "(after quantization) " : "",
                 step, steps, cmd.c_str());
  std::fflush(nullptr);
  const int status = std::system(cmd.c_str());
  SQZ_RETURN_ERROR_IF(status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0,
                      ErrorCode::kIo,
                      "retrain command failed (" +
                          (WIFEXITED(status) ? "exit code " + std::to_string(WEXITSTATUS(status))
                                             : std::string("killed by a signal")) +
                          "): " + command_);
  SQZ_RETURN_ERROR_IF(!std::filesystem::exists(out), ErrorCode::kNotFound,
                      "retrain command wrote no model to {out}: " + command_);
  Result<Model> trained = format::import_onnx(out);
  if (!trained.is_ok())
    return Status(trained.status().code(),
                  "retrain command's output: " + trained.status().message());
  return copy_trained_weights(*trained, model, "retrain command's output");
}

}  // namespace sqz::pipeline
