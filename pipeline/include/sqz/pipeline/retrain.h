// Deep Compression with labelled retraining (Han et al. 2016, Sec. 2-3), for any model and any
// labelled data set in memory: pruning during retraining (gradually, Zhu & Gupta 2017, or in
// steps with retraining between them), then k-means weight sharing (optionally the 1x1 layers
// first while the others retrain, INQ-style, Zhou et al. 2017) and centroid fine-tuning (paper
// Eq. 3). Every step distils from the uncompressed model (Hinton et al. 2015) as well as
// learning from the labels. The embedded default's recipe is one call of this.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "sqz/core/graph.h"
#include "sqz/core/status.h"
#include "sqz/image/image.h"
#include "sqz/pipeline/evaluate.h"
#include "sqz/pipeline/labels.h"
#include "sqz/pipeline/observer.h"
#include "sqz/prune/prune.h"
#include "sqz/quantize/quantize.h"

namespace sqz::pipeline {

// A labelled training set: count x C x H x W floats, already preprocessed, and their classes.
struct LabelledTensors {
  Shape chw;
  std::vector<float> x;
  std::vector<int> y;
  int64_t count() const { return static_cast<int64_t>(y.size()); }
};

// What pruning aims at: off when density <= 0 and layer_density is empty. One global magnitude
// threshold to `density` of all weights; layer_density overrides per layer.
struct PruneTarget {
  double density = 0;
  std::map<std::string, double> layer_density;
  prune::Granularity granularity = prune::Granularity::kWeight;
};

// How the labelled retraining trains.
struct RetrainSchedule {
  bool gradual = true;  // the cubic schedule inside one run; else prune, retrain, repeat
  int prune_steps = 4;  // the run has prune_steps x retrain_steps optimizer steps
  int retrain_steps = 1300;
  double learning_rate = 4e-3;
  // After weight sharing, fine-tuning of the centroids.
  bool pointwise_first = true;  // 1x1 layers first, half the fine-tuning steps, lr / 2
  int finetune_steps = 600;
  double finetune_lr = 8e-3;
  // Every optimizer step: Adam, cosine-decayed rate, `batch` images (mirrored at random when
  // `mirror`), loss = label_weight x CE + (1 - label_weight) x T^2 x KL(teacher || student).
  double label_weight = 0.5;
  double temperature = 4.0;
  double dropout = 0.2;
  int batch = 64;
  bool mirror = true;
};

// A labelled retraining run: its pruning target, its schedule, weight sharing
// (quantize.bits and quantize.layer_bits), and the run's threads and seed.
struct RetrainOptions : PruneTarget, RetrainSchedule {
  quantize::QuantizeOptions quantize;
  int threads = 1;
  uint64_t seed = 7;
};

// The model's class count, once a training step on `batch` images is known to fit the step
// budget (train::TrainOptions::max_step_bytes): kLimit naming the batch otherwise, before
// anything is allocated for it.
Result<int64_t> check_training_batch(const Model& model, int64_t batch, int threads);

// Checks options and data before any work: ranges, a batch no larger than the data, labels
// within the model's classes, tensors of the model's input shape.
Status check_retrain(const Model& teacher, const LabelledTensors& data, const RetrainOptions& o);

// Largest training set load_labelled_tensors holds in memory (4 GiB of floats).
inline constexpr int64_t kMaxTrainingBytes = int64_t{4} << 30;

// Decodes and preprocesses (centre crop) every image of `list` into tensors. REQUIRES: every
// label >= 0. kLimit, before decoding, when they would take more than max_bytes; errors name
// the image. Reports a task "decoding training images" to observer (may be null).
Result<LabelledTensors> load_labelled_tensors(const LabelledFiles& list,
                                              const image::Preprocess& pre, int64_t max_bytes,
                                              Observer* observer);

// Top-1 (and top-5) of model on labelled tensors, run by the inference runtime in batches of
// 100 images.
Result<Accuracy> evaluate_tensors(const Model& model, const LabelledTensors& data, int threads);

class LabelledRetraining {
 public:
  // teacher: the uncompressed model (its logits are computed once per image and mirror image,
  // when first needed). data and teacher must outlive this object.
  static Result<std::unique_ptr<LabelledRetraining>> create(const Model& teacher,
                                                            const LabelledTensors& data,
                                                            const RetrainOptions& options,
                                                            Observer* observer);
  ~LabelledRetraining();

  // Prunes `model` to the options' densities while it retrains (nothing when pruning is off).
  Status prune(Model& model);
  // Weight sharing and centroid fine-tuning of `model` (every convolution quantized); widths
  // (layer name -> codebook size, 2..256: quantize::set_layer_width) override the options'
  // for the layers they name.
  Status share_weights(Model& model, const std::map<std::string, int>& widths = {});

 private:
  struct Impl;
  explicit LabelledRetraining(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sqz::pipeline
