// The embedding API: a model opened for classification in a few lines, following the
// preprocessing its file records. Links the runtime, the .sqz codec and the image decoder; no
// protobuf.
//
//   auto c = sqz::runtime::Classifier::open("model.sqz");
//   auto scores = (*c)->classify_file("cat.jpg");
//   for (int k : sqz::runtime::top_k(scores->data(), scores->size(), 5)) ...
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sqz/core/graph.h"
#include "sqz/core/status.h"
#include "sqz/format/sqz_file.h"
#include "sqz/image/image.h"
#include "sqz/runtime/net.h"

namespace sqz::runtime {

struct ClassifierOptions {
  NetOptions net;  // threads, kernel policy, tuning
  // Used instead of what the file records (the caller resolved a disagreement).
  std::optional<image::Preprocess> preprocess;
  // false: the file's record is not read (a caller that resolves preprocessing itself and
  // passes inputs to run()).
  bool follow_record = true;
};

class Classifier {
 public:
  // Reads a .sqz (format::read_sqz) and plans its network.
  static Result<std::unique_ptr<Classifier>> open(const std::string& sqz_path,
                                                  const ClassifierOptions& options = {});
  // A model from any source with its metadata (the "preprocess" record, if any).
  // Preprocessing: options.preprocess, else the record (which must fit the input: kCorrupt),
  // else Caffe's for a 3-channel input and grey for a 1-channel one, else none (run() only).
  static Result<std::unique_ptr<Classifier>> create(const Model& model,
                                                    const format::Metadata& metadata,
                                                    const ClassifierOptions& options = {});
  ~Classifier();

  // Class scores of one image (decoded, then preprocessed). kUnsupported without a
  // preprocessing (an input that is not an image).
  Result<std::vector<float>> classify_file(const std::string& path,
                                           const image::DecodeOptions& decode = {});
  Result<std::vector<float>> classify(const image::Image& image);
  // Preprocessed inputs, batch x C x H x W -> batch x classes().
  Status run(const float* inputs, int64_t batch, std::vector<float>* outputs);

  // Null without one; recorded(): it came from the file's record.
  const image::Preprocess* preprocess() const { return pre_ ? &*pre_ : nullptr; }
  bool recorded() const { return recorded_; }
  Shape input_chw() const { return net_->input_chw(); }
  int64_t classes() const { return net_->output_size(); }
  Net& net() { return *net_; }

 private:
  Classifier() = default;
  std::unique_ptr<Net> net_;
  std::optional<image::Preprocess> pre_;
  bool recorded_ = false;
};

// Indices of the k largest scores, largest first (ties: lower index first; NaN counts as the
// smallest).
std::vector<int> top_k(const float* scores, int64_t n, int k);

}  // namespace sqz::runtime
