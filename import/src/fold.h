// Graph rewrites shared by the importers.
#pragma once

#include <string>
#include <vector>

#include "sqz/core/graph.h"
#include "sqz/core/status.h"

namespace sqz::import::detail {

// Inference-time batch normalization, y = scale * (x - mean) / sqrt(var + epsilon) + bias per
// channel (ONNX BatchNormalization; Caffe BatchNorm, whose blobs are divided by their scale
// factor first, followed by Scale).
struct BatchNormParams {
  std::vector<float> scale, bias, mean, var;
  double epsilon = 1e-5;
};

// Folds y = a[c] * x + b[c], applied to conv's output channel c, into its weights and bias
// (computed in double, rounded once). Errors name `where`: channel counts that disagree,
// factors that are not finite.
Status fold_channel_affine(Layer& conv, const std::vector<double>& a, const std::vector<double>& b,
                           const std::string& where);

// Folds bn, applied to conv's output, into conv's weights and bias (Ioffe & Szegedy 2015 at
// inference; computed in double, rounded once): w' = w * s, b' = (b - mean) * s + bias with
// s = scale / sqrt(var + epsilon). Errors (naming `where`): channel counts that disagree, a
// negative variance plus epsilon.
Status fold_batchnorm(Layer& conv, const BatchNormParams& bn, const std::string& where);

// A zero bias for a convolution stored without one (ONNX Conv with two inputs, Caffe
// bias_term: false): every stage then sees a bias.
void add_zero_bias(Layer& conv);

}  // namespace sqz::import::detail
