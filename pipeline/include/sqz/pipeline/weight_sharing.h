// Weight sharing as compress does it: a k-means codebook per layer (quantize::quantize_layer),
// then, when the layer's input statistics are given, codes assigned by error compensation
// under them (quantize::assign_codes) instead of nearest-centroid rounding, and optionally the
// codebook refitted to those codes under the same statistics (quantize::refit_codebook).
#pragma once

#include <functional>
#include <map>
#include <string>

#include "sqz/core/graph.h"
#include "sqz/core/status.h"
#include "sqz/pipeline/input_moments.h"
#include "sqz/pipeline/paired_activations.h"
#include "sqz/quantize/gptq.h"
#include "sqz/quantize/quantize.h"

namespace sqz::pipeline {

using InputMoments = std::map<std::string, quantize::InputMoment>;

struct SharingOptions {
  quantize::QuantizeOptions quantize;        // codebooks and widths
  const InputMoments* moments = nullptr;  // by layer name; null or absent: nearest centroid
  quantize::GptqOptions gptq;
  bool refit_codebook = false;  // with statistics: the centroids refitted to the codes
};

// With statistics `moment`: the layer's codes by error compensation towards `target`, then,
// when options.refit_codebook, the codebook refitted to them and the codes assigned again
// from it (kept only where better), twice. The layer is quantized (quantize_layer) already.
Status compensate_codes(Layer& layer, const std::vector<float>& target,
                        const quantize::InputMoment& moment, const SharingOptions& options);

Status share_layer(Layer& layer, int bits, const SharingOptions& options);

// Every convolution at its width from options.quantize (as quantize::quantize_model).
Status share_weights(Model& model, const SharingOptions& options);

// Sequential weight sharing against the reference network (quantize/drift.h): the
// convolutions in graph order, each one's codebook and codes chosen under the statistics of
// its input in the network shared so far, towards the reference layer's output, and its bias
// then set so that its mean output matches the reference's. Convolutions that do not depend
// on one another share a pass over the images (a Fire module's two expands).
// What a sequential share computed, pass by pass, for calls on the same model, reference and
// images that differ in widths only: a pass whose layers, and every layer before them, keep
// their widths is copied instead of measured again (the same result: each pass depends on
// nothing else).
struct SequentialCache {
  struct Pass {
    std::vector<int> widths;    // of every shared layer up to this pass's last
    std::vector<Layer> layers;  // this pass's layers, shared
  };
  std::vector<Pass> passes;
};

struct SequentialSharing {
  const Model* reference = nullptr;  // the same graph, float weights (e.g. before pruning)
  const float* images = nullptr;     // n preprocessed inputs, N x C x H x W
  int64_t n = 0;
  MomentOptions moments;
  bool match_means = true;  // the bias step (off: biases as they were)
  SequentialCache* cache = nullptr;  // optional, see above
  // Both networks' activations kept between passes, at most this many bytes
  // (PairedActivations): the result is the same at any value, only the time differs.
  int64_t max_activation_bytes = default_activation_budget();
};

// model: float weights (its pruned positions zero or masked); widths from options.quantize.
// progress(layers done, layers) may return an error to stop.
Status share_weights_sequential(Model& model, const SharingOptions& options,
                                const SequentialSharing& sequential,
                                const std::function<Status(int, int)>& progress);

}  // namespace sqz::pipeline
