// Weight sharing as compress does it: a k-means codebook per layer (quantize::quantize_layer),
// then, when the layer's input statistics are given, codes assigned by error compensation
// under them (quantize::assign_codes) instead of nearest-centroid rounding.
#pragma once

#include <map>
#include <string>

#include "sqz/core/graph.h"
#include "sqz/core/status.h"
#include "sqz/quantize/gptq.h"
#include "sqz/quantize/quantize.h"

namespace sqz::pipeline {

using InputMoments = std::map<std::string, quantize::InputMoment>;

struct SharingOptions {
  quantize::QuantizeOptions quantize;        // codebooks and widths
  const InputMoments* moments = nullptr;  // by layer name; null or absent: nearest centroid
  quantize::GptqOptions gptq;
};

Status share_layer(Layer& layer, int bits, const SharingOptions& options);

// Every convolution at its width from options.quantize (as quantize::quantize_model).
Status share_weights(Model& model, const SharingOptions& options);

}  // namespace sqz::pipeline
