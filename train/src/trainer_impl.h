// The training engine's state (trainer.h's Trainer::Impl), shared by trainer.cc (set-up,
// optimizer, the API) and passes.cc (forward, loss, backward). Internal.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ops/ops.h"
#include "sqz/runtime/thread_pool.h"
#include "sqz/train/trainer.h"

namespace sqz::train {

// Optimizer state for one parameter vector.
struct Param {
  std::vector<float> grad, m, v;
  void resize(size_t n) {
    grad.assign(n, 0.0f);
    m.assign(n, 0.0f);
    v.assign(n, 0.0f);
  }
};

struct ConvState {
  Param w, b, centroids;
  bool centroid_mode = false;
  std::vector<int64_t> stored;  // positions of the stored weights (mask order)
};

struct Trainer::Impl {
  Model* model;
  TrainOptions o;
  std::map<std::string, Shape> shapes;  // batch 1
  std::vector<size_t> order;            // layers run while training
  std::string logits;                   // blob the loss reads
  int64_t classes = 0;
  std::map<size_t, ConvState> convs;
  // A convolution whose output only a ReLU reads applies that ReLU itself and writes the
  // ReLU's blob: one pass less each way, and no blob for the pre-activation.
  std::map<size_t, size_t> fused_relu;  // convolution layer -> its ReLU layer
  std::vector<bool> fused_away;         // ReLU layers run inside their convolution
  std::unique_ptr<runtime::ThreadPool> pool;
  std::vector<Worker> workers;
  int64_t steps = 0;

  Status init();
  // The blob a layer's results land in (a fused convolution's: its ReLU's output).
  const std::string& output_of(size_t li) const {
    auto it = fused_relu.find(li);
    return model->layers[it == fused_relu.end() ? li : it->second].output;
  }
  void forward(Worker& w, const float* x, int64_t n, bool training, uint64_t rng_key);
  void backward(Worker& w, int64_t n);
  double loss_and_grad(Worker& w, const int* labels, const float* teacher, int64_t n,
                       int64_t total);
  // The loss of n images' logits z ([n][classes]) and its gradient dz (set whole), over a
  // batch of `total` images.
  double match_loss(const float* z, const float* teacher, float* dz, int64_t n,
                    int64_t total) const;
  double label_loss(const float* z, const int* labels, const float* teacher, float* dz,
                    int64_t n, int64_t total) const;
  void update();
  double lr() const;
  Result<double> run_batch(const float* images, const int* labels, const float* teacher, int64_t n);
};

}  // namespace sqz::train
