#include "sqz/runtime/classifier.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "sqz/image/record.h"

namespace sqz::runtime {
namespace {

// Caffe's convention for colour, plain grey (mean 0, std 1) for one channel; none otherwise.
std::optional<image::Preprocess> default_preprocess(const Shape& chw) {
  if (chw.size() != 3 || (chw[0] != 1 && chw[0] != 3)) return std::nullopt;
  image::Preprocess p = image::caffe_preprocess(static_cast<int>(chw[1]), static_cast<int>(chw[2]));
  if (chw[0] == 1) {
    p.channels = 1;
    p.mean[0] = 0.0f;
    p.std[0] = 1.0f;
  }
  if (!image::check_preprocess(p).is_ok()) return std::nullopt;
  return p;
}

}  // namespace

Classifier::~Classifier() = default;

Result<std::unique_ptr<Classifier>> Classifier::open(const std::string& sqz_path,
                                                     const ClassifierOptions& options) {
  // Codes only: the net packs them straight from the file, without a float32 copy between.
  format::SqzDecodeOptions decode;
  decode.dense_weights = false;
  SQZ_ASSIGN_OR_RETURN(format::SqzFile file, format::read_sqz(sqz_path, decode));
  auto c = create(file.model, file.metadata, options);
  if (!c.is_ok()) return c.status().with_context(sqz_path);
  return c;
}

Result<std::unique_ptr<Classifier>> Classifier::create(const Model& model,
                                                       const format::Metadata& metadata,
                                                       const ClassifierOptions& options) {
  std::unique_ptr<Classifier> c(new Classifier());
  SQZ_ASSIGN_OR_RETURN(c->net_, Net::create(model, options.net));
  const Shape chw = c->net_->input_chw();
  std::string recorded;
  if (options.follow_record && !options.preprocess) {
    SQZ_ASSIGN_OR_RETURN(recorded, image::recorded_preprocess(metadata));
  }
  if (options.preprocess) {
    c->pre_ = options.preprocess;
  } else if (!recorded.empty()) {
    SQZ_ASSIGN_OR_RETURN(image::Preprocess p, image::parse_preprocess(recorded));
    SQZ_RETURN_ERROR_IF(chw.size() != 3 || p.channels != chw[0] || p.crop_h != chw[1] ||
                            p.crop_w != chw[2],
                        ErrorCode::kCorrupt,
                        "the recorded preprocessing '" + recorded + "' does not fit the input " +
                            shape_to_string(chw));
    c->pre_ = p;
    c->recorded_ = true;
  } else {
    c->pre_ = default_preprocess(chw);
  }
  return c;
}

Result<std::vector<float>> Classifier::classify_file(const std::string& path,
                                                     const image::DecodeOptions& decode) {
  SQZ_ASSIGN_OR_RETURN(image::Image img, image::decode_image_file(path, decode));
  auto scores = classify(img);
  if (!scores.is_ok()) return scores.status().with_context(path);
  return scores;
}

Result<std::vector<float>> Classifier::classify(const image::Image& img) {
  SQZ_RETURN_ERROR_IF(!pre_, ErrorCode::kUnsupported,
                      "the network's input " + shape_to_string(input_chw()) + " is not an image");
  SQZ_ASSIGN_OR_RETURN(std::vector<float> input, image::preprocess(img, *pre_));
  std::vector<float> scores;
  SQZ_RETURN_IF_ERROR(net_->forward(input.data(), 1, &scores));
  return scores;
}

Status Classifier::run(const float* inputs, int64_t batch, std::vector<float>* outputs) {
  return net_->forward(inputs, batch, outputs);
}

std::vector<int> top_k(const float* scores, int64_t n, int k) {
  std::vector<int> idx(static_cast<size_t>(n));
  std::iota(idx.begin(), idx.end(), 0);
  k = static_cast<int>(std::min<int64_t>(std::max(k, 0), n));
  // NaN ranks below every number (a strict weak order; NaNs would otherwise break the sort
  // and silently drop classes).
  auto key = [&](int i) { return std::isnan(scores[i]) ? -INFINITY : scores[i]; };
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int a, int b) {
    const float x = key(a), y = key(b);
    return x > y || (x == y && a < b);
  });
  idx.resize(static_cast<size_t>(k));
  return idx;
}

}  // namespace sqz::runtime
