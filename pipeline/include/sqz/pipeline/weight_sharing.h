// Weight sharing as compress does it: a k-means codebook per layer (quant::quantize_layer),
// then, when the layer's input statistics are given, codes assigned by error compensation
// under them (quant::assign_codes) instead of nearest-centroid rounding.
#pragma once

#include <map>
#include <string>

#include "sqz/core/graph.h"
#include "sqz/core/status.h"
#include "sqz/quantize/gptq.h"
#include "sqz/quantize/quantize.h"

namespace sqz::pipeline {

using InputMoments = std::map<std::string, quant::InputMoment>;

struct SharingOptions {
  quant::QuantizeOptions quantize;        // codebooks and widths
  const InputMoments* moments = nullptr;  // by layer name; null or absent: nearest centroid
  quant::GptqOptions gptq;
};

Status share_layer(Layer& layer, int bits, const SharingOptions& options);

// Every convolution at its width from options.quantize (as quant::quantize_model).
Status share_weights(Model& model, const SharingOptions& options);

}  // namespace sqz::pipeline
