// Magnitude pruning (Han, Pool, Tran, Dally, NIPS 2015; Deep Compression Sec. 2): the
// smallest weights of each layer are removed and a mask keeps them at zero from then on.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "sqz/core/graph.h"
#include "sqz/core/status.h"

namespace sqz::prune {

enum class Criterion {
  kDensity,        // each layer keeps `density` of its weights
  kQuality,        // each layer drops |w| < quality x std(w) (the NIPS 2015 rule)
  kGlobalDensity,  // one magnitude threshold across the layers without an override keeps
                   // `density` of their weights together
};

enum class Schedule {
  kLinear,  // density falls linearly from its start to the target over the steps
  kCubic,   // sparsity follows Zhu & Gupta (2017): fast at first, gentle at the end
};

enum class Granularity {
  kWeight,  // single weights, ranked by |w| (Han et al. 2015)
  kKernel,  // whole k_h x k_w kernels of the layers with a window larger than 1x1, ranked by
            // their RMS; 1x1 layers stay per weight. Coarse blocks need a position per kernel
            // instead of per weight (Mao et al. 2017, "Exploring the granularity of sparsity in
            // convolutional neural networks", Sec. 3-4).
};

struct PruneOptions {
  Criterion criterion = Criterion::kDensity;
  Granularity granularity = Granularity::kWeight;
  double density = 1.0;  // kDensity, kGlobalDensity: in (0, 1]
  double quality = 0.0;  // kQuality: >= 0
  // Per-layer densities that override the criterion (e.g. {"conv1", 1.0} keeps it dense).
  std::map<std::string, double> layer_density;
  int steps = 1;  // prune towards the target in this many steps (>= 1)
  Schedule schedule = Schedule::kCubic;
};

struct LayerReport {
  std::string name;
  int64_t weights = 0;
  int64_t kept_before = 0, kept_after = 0;
  double threshold = 0;  // the largest |w| removed (0 if none)
};

// Checks settings against the model before anything changes; errors name the layer or value.
Status check_options(const Model& model, const PruneOptions& options);

// The options a front end was given, by name, checked against the others: kInvalidArgument
// for `schedule` with a single step (it spaces the steps; it would be ignored).
Status check_option_dependencies(const PruneOptions& options,
                                 const std::vector<std::string>& given);

// The density target of step `step` (1..steps) for a layer that starts at `start`.
double scheduled_density(double start, double target, int step, int steps, Schedule schedule);

// One pruning step to the given per-step options (steps is ignored). Sets every
// convolution's mask; pruned weights become 0; biases are never touched. Positions already
// pruned stay pruned (a layer never gains weights).
Result<std::vector<LayerReport>> prune_once(Model& model, const PruneOptions& options);

// Keeps the `keep` largest-magnitude weights among the layer's kept positions (ties: lower
// index first) and prunes the rest. kKernel: keeps round(keep / window) whole kernels, ranked
// by RMS; positions pruned before stay pruned. Returns the report.
LayerReport prune_layer_to_count(Layer& layer, int64_t keep,
                                 Granularity granularity = Granularity::kWeight);

// Called after each pruning step (and, by the pipeline, after quantization) so that the
// weights can be retrained. The pipeline re-enforces masks (and codebooks) after each call.
class RetrainHook {
 public:
  virtual ~RetrainHook() = default;
  // step counts from 1; `after_quantization` is set for the call after weight sharing.
  virtual Status retrain(Model& model, int step, int steps, bool after_quantization) = 0;
};

struct StepReport {
  int step = 0;
  std::vector<LayerReport> layers;
  int64_t mask_violations_reset = 0;  // retrained weights at pruned positions set back to 0
};

// Iterative pruning: `options.steps` steps along the schedule towards the target, calling
// hook (if any) after each step and enforcing the masks after it.
Result<std::vector<StepReport>> prune_iteratively(Model& model, const PruneOptions& options,
                                                  RetrainHook* hook);

// Kept fraction of all convolution weights.
double total_density(const Model& model);

}  // namespace sqz::prune
