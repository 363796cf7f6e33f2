#include "sqz/pipeline/retrain_command.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "sqz/core/file_io.h"
#include "sqz/import/exporters.h"
#include "sqz/import/importers.h"

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

Model code_model(const Model& m) {
  Model codes = m;
  for (Layer& l : codes.layers) {
    if (l.op != OpKind::kConvolution) continue;
    for (size_t i = 0, k = 0; i < l.weight.data.size(); ++i) {
      const bool stored = l.mask.empty() || l.mask[i];
      l.weight.data[i] = !stored ? -1.0f : l.quant.active() ? l.quant.codes[k] : -2.0f;
      k += stored;
    }
    l.mask.clear();
    l.quant = {};
  }
  return codes;
}

// Runs the command on the files of `inputs` ({name} -> bytes) and reads {out} back.
Result<Model> run_command(const std::string& command, bool verbose, const std::string& what,
                          const std::vector<std::pair<std::string, std::string>>& inputs) {
  TempDir dir;
  SQZ_RETURN_ERROR_IF(dir.path().empty(), ErrorCode::kIo, "cannot create a temporary folder");
  std::string cmd = command;
  for (const auto& [name, bytes] : inputs) {
    const std::string path = dir.path() + "/" + name + ".onnx";
    SQZ_RETURN_IF_ERROR(write_file_atomic(path, bytes, true));
    replace_all(cmd, "{" + name + "}", shell_quote(path));
  }
  const std::string out = dir.path() + "/retrained.onnx";
  replace_all(cmd, "{out}", shell_quote(out));
  if (verbose) std::fprintf(stderr, "retrain %s: %s\n", what.c_str(), cmd.c_str());
  std::fflush(nullptr);
  const int status = std::system(cmd.c_str());
  SQZ_RETURN_ERROR_IF(status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0,
                      ErrorCode::kIo,
                      "retrain command failed (" +
                          (WIFEXITED(status) ? "exit code " + std::to_string(WEXITSTATUS(status))
                                             : std::string("killed by a signal")) +
                          "): " + command);
  SQZ_RETURN_ERROR_IF(!std::filesystem::exists(out), ErrorCode::kNotFound,
                      "retrain command wrote no model to {out}: " + command);
  Result<Model> trained = import::import_onnx(out);
  if (!trained.is_ok())
    return Status(trained.status().code(),
                  "retrain command's output: " + trained.status().message());
  return trained;
}

// The conv layers of `trained`, one per conv layer of `model` with the same shapes.
Result<std::vector<const Layer*>> matching_convs(const Model& trained, const Model& model,
                                                 const std::string& source) {
  std::vector<const Layer*> from;
  for (const Layer& l : trained.layers)
    if (l.op == OpKind::kConvolution) from.push_back(&l);
  size_t k = 0;
  for (const Layer& l : model.layers) {
    if (l.op != OpKind::kConvolution) continue;
    SQZ_RETURN_ERROR_IF(k >= from.size(), ErrorCode::kShapeMismatch,
                        source + ": has fewer convolution layers than the model");
    const Layer& t = *from[k++];
    SQZ_RETURN_ERROR_IF(
        t.weight.shape != l.weight.shape || t.bias.shape != l.bias.shape, ErrorCode::kShapeMismatch,
        source + ": layer '" + l.name + "' weight shape " + shape_to_string(t.weight.shape) +
            " differs from the model's " + shape_to_string(l.weight.shape));
  }
  SQZ_RETURN_ERROR_IF(k != from.size(), ErrorCode::kShapeMismatch,
                      source + ": has more convolution layers than the model");
  return from;
}

// Layer l's codebook from the trained weights t (see copy_trained_centroids).
Status take_centroids(const Layer& t, Layer& l, const std::string& source) {
  const std::string where = source + ": layer '" + l.name + "'";
  std::vector<float> book = l.quant.codebook;
  std::vector<bool> seen(book.size(), false);
  for (size_t i = 0, k = 0; i < l.weight.data.size(); ++i) {
    const float v = t.weight.data[i];
    if (!l.mask.empty() && !l.mask[i]) {
      SQZ_RETURN_ERROR_IF(v != 0.0f, ErrorCode::kInvalidArgument,
                          where + " has a non-zero weight at a pruned position");
      continue;
    }
    const uint8_t c = l.quant.codes[k++];
    SQZ_RETURN_ERROR_IF(!std::isfinite(v) || v == 0.0f, ErrorCode::kInvalidArgument,
                        where + ": centroid " + std::to_string(c) + " became 0 or not finite");
    SQZ_RETURN_ERROR_IF(seen[c] && book[c] != v, ErrorCode::kInvalidArgument,
                        where + ": weights sharing centroid " + std::to_string(c) +
                            " differ (the command must train centroids, not weights)");
    book[c] = v;
    seen[c] = true;
  }
  std::vector<uint8_t> order(book.size());
  for (size_t c = 0; c < order.size(); ++c) order[c] = static_cast<uint8_t>(c);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return book[a] < book[b]; });
  for (size_t c = 1; c < order.size(); ++c)
    SQZ_RETURN_ERROR_IF(book[order[c]] == book[order[c - 1]], ErrorCode::kInvalidArgument,
                        where + ": two centroids became equal");
  std::vector<uint8_t> renumber(book.size());
  for (size_t c = 0; c < order.size(); ++c) renumber[order[c]] = static_cast<uint8_t>(c);
  for (size_t c = 0; c < order.size(); ++c) l.quant.codebook[c] = book[order[c]];
  for (uint8_t& code : l.quant.codes) code = renumber[code];
  for (size_t i = 0, k = 0; i < l.weight.data.size(); ++i)
    if (l.mask.empty() || l.mask[i]) l.weight.data[i] = l.quant.codebook[l.quant.codes[k++]];
  l.bias.data = t.bias.data;
  return Status::ok();
}

}  // namespace

Status copy_trained_centroids(const Model& trained, Model& model, const std::string& source) {
  SQZ_ASSIGN_OR_RETURN(std::vector<const Layer*> from, matching_convs(trained, model, source));
  Model updated = model;
  size_t k = 0;
  for (Layer& l : updated.layers) {
    if (l.op != OpKind::kConvolution) continue;
    const Layer& t = *from[k++];
    if (l.quant.active()) {
      SQZ_RETURN_IF_ERROR(take_centroids(t, l, source));
    } else {
      for (size_t i = 0; i < l.mask.size(); ++i)
        SQZ_RETURN_ERROR_IF(!l.mask[i] && t.weight.data[i] != 0.0f, ErrorCode::kInvalidArgument,
                            source + ": layer '" + l.name +
                                "' has a non-zero weight at a pruned position");
      l.weight.data = t.weight.data;
      l.bias.data = t.bias.data;
    }
  }
  model = std::move(updated);
  return Status::ok();
}

Status retrain_centroids_by_command(Model& model, const std::string& command, bool verbose,
                                    const format::Metadata& metadata) {
  SQZ_ASSIGN_OR_RETURN(std::string model_bytes, import::export_onnx(model, metadata));
  SQZ_ASSIGN_OR_RETURN(std::string mask_bytes, import::export_onnx(mask_model(model)));
  SQZ_ASSIGN_OR_RETURN(std::string code_bytes, import::export_onnx(code_model(model)));
  SQZ_ASSIGN_OR_RETURN(
      Model trained,
      run_command(command, verbose, "(centroids)",
                  {{"in", model_bytes}, {"masks", mask_bytes}, {"codes", code_bytes}}));
  return copy_trained_centroids(trained, model, "retrain command's output");
}

CommandRetrainHook::CommandRetrainHook(std::string command, bool verbose,
                                       format::Metadata metadata)
    : command_(std::move(command)), verbose_(verbose), metadata_(std::move(metadata)) {}

Status copy_trained_weights(const Model& trained, Model& model, const std::string& source) {
  SQZ_ASSIGN_OR_RETURN(std::vector<const Layer*> from, matching_convs(trained, model, source));
  size_t k = 0;
  for (Layer& l : model.layers) {
    if (l.op != OpKind::kConvolution) continue;
    l.weight.data = from[k]->weight.data;
    l.bias.data = from[k++]->bias.data;
  }
  return Status::ok();
}

Status CommandRetrainHook::retrain(Model& model, int step, int steps, bool after_quantization) {
  SQZ_ASSIGN_OR_RETURN(std::string model_bytes, import::export_onnx(model, metadata_));
  SQZ_ASSIGN_OR_RETURN(std::string mask_bytes, import::export_onnx(mask_model(model)));
  std::string command = command_;
  replace_all(command, "{step}", std::to_string(step));
  const std::string what = std::string(after_quantization ? "(after quantization) " : "") +
                           std::to_string(step) + "/" + std::to_string(steps);
  SQZ_ASSIGN_OR_RETURN(Model trained, run_command(command, verbose_, what,
                                                  {{"in", model_bytes}, {"masks", mask_bytes}}));
  return copy_trained_weights(trained, model, "retrain command's output");
}

}  // namespace sqz::pipeline
