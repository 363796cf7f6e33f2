// The training engine used for retraining (Deep Compression Sec. 2-3): forward and backward
// passes over a Model in float32 (one GEMM per convolution and thread over the batch's im2col,
// on the runtime's ISA-dispatched kernels), softmax cross-entropy and a
// distillation loss (Hinton et al. 2015), SGD with momentum or Adam. Mask-aware: pruned weights
// get no gradient and stay exactly 0. Codebook-aware: with `train_centroids`, a quantized layer
// trains its centroids (gradient = sum over the weights sharing it, paper Eq. 3) and keeps its
// assignments. Data-parallel over threads; for a fixed seed and thread count every step is
// deterministic.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "sqz/core/graph.h"
#include "sqz/core/status.h"

namespace sqz::train {

// The memory a training step may plan for its batch, by default (activations, their
// gradients, the im2col of every convolution): 1 GiB, which holds SqueezeNet v1.0 at 227x227
// for a batch of 11 (about 90 MiB an image). set_default_step_budget changes it for every
// TrainOptions made afterwards (the CLI's `max_memory`).
int64_t default_step_budget();
void set_default_step_budget(int64_t bytes);

enum class Optimizer { kSgd, kAdam };
enum class LrSchedule { kConstant, kCosine };
// kClassify: cross-entropy on labels and/or distillation from teacher logits (below).
// kMatchOutput: the mean over the batch of the mean squared difference between the output and
// `teacher`, a target for every output value, of any shape: a block's output reconstruction
// (BRECQ, Li et al., ICLR 2021, Sec. 3).
enum class Loss { kClassify, kMatchOutput };

struct TrainOptions {
  Optimizer optimizer = Optimizer::kAdam;
  double learning_rate = 1e-3;
  double momentum = 0.9;                              // SGD
  double beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8;  // Adam
  double weight_decay = 0;  // L2 on convolution weights (not biases, not centroids)
  LrSchedule schedule = LrSchedule::kConstant;
  int64_t total_steps = 0;  // for the cosine schedule
  double dropout = 0.5;     // ratio for Dropout layers while training
  int threads = 1;
  uint64_t seed = 1;
  bool train_centroids = false;  // quantized layers: train codebooks (and biases) only
  Loss loss = Loss::kClassify;
  // Distillation: loss = alpha * CE(labels) + (1 - alpha) * T^2 * KL(teacher_T || student_T).
  double distill_temperature = 4.0;
  double distill_alpha = 1.0;  // 1: labels only (no teacher needed)
  // step(), gradients() and check_batch() refuse (kLimit) a batch whose step would need more.
  int64_t max_step_bytes = default_step_budget();
};

class Trainer {
 public:
  // The trainer works on `model` in place: its weights (and codebooks) change with every step.
  // REQUIRES: model outlives the trainer; the model's output is logits (a final Softmax, if
  // any, is skipped while training).
  static Result<std::unique_ptr<Trainer>> create(Model* model, const TrainOptions& options);
  ~Trainer();

  // One optimizer step on n images (NCHW floats). labels: n class indices (or null when
  // distill_alpha == 0 or the loss is kMatchOutput); teacher: n x classes logits (or null when
  // distill_alpha == 1), or with kMatchOutput n x classes() targets.
  // Returns the mean loss over the batch.
  Result<double> step(const float* images, const int* labels, const float* teacher, int64_t n);

  // The mean loss and its gradient for every convolution's weights and biases (in layer
  // order, OIHW), without updating anything; dropout masks are those of the next step.
  // For gradient checks.
  Result<double> gradients(const float* images, const int* labels, const float* teacher, int64_t n,
                           std::vector<std::vector<float>>* weight_grads,
                           std::vector<std::vector<float>>* bias_grads);

  // Bytes a step on n images plans: per image, every blob's activation and gradient, each
  // convolution's im2col, the max-pool and dropout masks.
  int64_t step_bytes(int64_t n) const;
  // kLimit (naming the batch, the bytes and the budget) when step_bytes(n) exceeds
  // options.max_step_bytes: callers check their batch before the first step allocates.
  Status check_batch(int64_t n) const;

  // Logits for n images in inference mode (dropout off).
  Status predict(const float* images, int64_t n, std::vector<float>* logits);

  int64_t classes() const;  // values per image at the output (kMatchOutput: any shape)
  int64_t steps_taken() const;

 private:
  struct Impl;
  explicit Trainer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sqz::train
