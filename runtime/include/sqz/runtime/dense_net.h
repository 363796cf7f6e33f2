// The dense float32 runtime: plans a Model once (kernel choice, weight packing, ReLU fusion,
// concat without copies), then runs batches of NCHW inputs.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "sqz/core/graph.h"
#include "sqz/core/status.h"

namespace sqz::rt {

struct NetOptions {
  int threads = 1;
  bool reference_kernels = false;  // run the naive twins (for differential tests)
};

struct LayerProfile {
  std::string name;
  std::string kernel;  // e.g. "gemm_6x32_f32_avx512", "fused", "alias"
  double flops = 0;    // multiply-adds x 2, per image
  double seconds = 0;  // accumulated over forward() calls
};

class DenseNet {
 public:
  // Validates the model and prepares it. The model is copied; it may be destroyed after.
  static Result<std::unique_ptr<DenseNet>> create(const Model& model, const NetOptions& options);
  ~DenseNet();

  // Per-image input shape (C, H, W) and output element count.
  const Shape& input_chw() const;
  int64_t output_size() const;

  // input: batch x C x H x W floats. Resizes *output to batch x output_size().
  Status forward(const float* input, int64_t batch, std::vector<float>* output);

  // Per-layer kernel choice and time (when profiling is on).
  void set_profiling(bool on);
  std::vector<LayerProfile> profile() const;

 private:
  struct Impl;
  explicit DenseNet(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sqz::rt
