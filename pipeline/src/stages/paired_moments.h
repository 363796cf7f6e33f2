// collect_paired_moments over any source of input batches: the images themselves, or both
// networks' activations at a cut of the graph (PairedActivations).
#pragma once

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "sqz/pipeline/input_moments.h"

namespace sqz::pipeline::detail {

// Images per forward pass of the collections (both networks hold one batch's activations).
constexpr int64_t kMomentBatch = 4;

// One batch of `count` inputs for each network (the same pointer when both see the images).
using PairedRun = std::function<Status(const float* own, const float* reference, int64_t count)>;
// Calls `run` on every batch, in order; stops at the first error.
using PairedSource = std::function<Status(const PairedRun& run)>;

// `count` images (C x H x W each) reversed along their width into *out; returns out->data().
const float* mirror_images(const float* images, int64_t count, const Shape& chw,
                           std::vector<float>* out);

// model and reference: networks of the same graph whose input is what `source` gives (the
// images, or a blob inside the full networks). Both run as far as the last named layer.
Result<PairedMoments> collect_paired(const Model& model, const Model& reference,
                                     const std::set<std::string>& layers,
                                     const MomentOptions& options, const PairedSource& source);

}  // namespace sqz::pipeline::detail
