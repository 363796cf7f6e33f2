// The second moment of every convolution's input on calibration images (quantize::InputMoment),
// gathered in one pass of the runtime over the images: what data-aware code assignment
// (quantize::assign_codes) needs.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>

#include "sqz/core/graph.h"
#include "sqz/core/status.h"
#include "sqz/quantize/drift.h"
#include "sqz/quantize/gptq.h"

namespace sqz::pipeline {

struct MomentOptions {
  int threads = 1;
  // Receptive fields per image and layer, evenly spaced over the output positions: spatial
  // neighbours are nearly redundant, and the sums cost k^2 per field.
  int64_t max_positions = 1024;
  // A convolution of more inputs per output (k = in/groups x kh x kw) gets no statistics: they
  // cost k^2 doubles per group and the code sweep k^3 operations. 4608 is 512 channels of 3x3,
  // eight times SqueezeNet's widest; such layers keep nearest-centroid codes.
  int64_t max_fan_in = 4608;
  // Each image also seen mirrored left to right: twice the fields from the same images (a
  // mirrored photograph is as likely as the original, the augmentation ImageNet training uses).
  // Measured on the release SqueezeNet: the statistics of 128 images and their mirrors gave
  // codes nearly as good as those of 250 images (docs/tutorial.md).
  bool mirror = false;
};

// Whether `layer` (a convolution) is narrow enough for statistics under `options`.
bool gets_moments(const Layer& layer, const MomentOptions& options);

// For every convolution of `model` that gets_moments, by layer name, over n inputs (N x C x H x W
// floats; with options.mirror, each also mirrored). progress(images done) may return an error to
// stop (e.g. kInterrupted).
Result<std::map<std::string, quantize::InputMoment>> collect_input_moments(
    const Model& model, const float* inputs, int64_t n, const MomentOptions& options,
    const std::function<Status(int64_t)>& progress);

// One convolution's statistics in the network being compressed paired with the reference
// network's at the same receptive fields of the same images (what quantize::drift_target and
// match_output_means need), for the named layers only.
struct PairedMoments {
  std::map<std::string, quantize::InputMoment> own;  // sum x x^T of the network's own input
  std::map<std::string, quantize::CrossMoment> cross;
};

// model and reference: the same graph (the reference's layers of those names take inputs of
// the same shapes). kInvalidArgument naming the layer when they do not. Layers that do not
// gets_moments are left out of both maps.
Result<PairedMoments> collect_paired_moments(const Model& model, const Model& reference,
                                             const std::set<std::string>& layers,
                                             const float* inputs, int64_t n,
                                             const MomentOptions& options,
                                             const std::function<Status(int64_t)>& progress);

// One layer's receptive fields at the chosen positions of one CHW input, as rows of k floats
// per group: fields[(g * positions + p) * k + j] (j in the weights' (c, y, x) order, 0 in the
// padding). positions: output offsets oy * out_w + ox.
void receptive_fields(const Layer& layer, const Shape& in_chw, const Shape& out_chw,
                      const float* input, const std::vector<int64_t>& positions,
                      std::vector<float>* fields);

}  // namespace sqz::pipeline
