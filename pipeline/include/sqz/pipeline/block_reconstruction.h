// Block reconstruction, after the codes are chosen (BRECQ, Li et al., ICLR 2021, Sec. 3-4,
// without its soft rounding: the codes stay as sequential sharing chose them). The network
// is cut into blocks where branches join (a Fire module up to its concat, a convolution up
// to its pooling, the classifier up to its average), and block after block, in graph order,
// the quantized layers' centroids and every bias in it are tuned (Adam on the mean squared
// error, codes and masks fixed: paper Eq. 3's centroid gradient) so that the block's output
// matches the float network's block output, given the inputs the compressed network before it
// now produces. Unlike the layer-wise codes, the objective sees through the block's ReLUs.
// Only centroids and biases move, so the file's size does not change.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "sqz/core/graph.h"
#include "sqz/core/status.h"
#include "sqz/pipeline/paired_activations.h"

namespace sqz::pipeline {

struct BlockOptions {
  int steps = 0;                // optimizer steps per block; 0: off
  int batch = 8;                // items (an image or its mirror) per step
  double learning_rate = 1e-4;  // Adam, cosine decay over each block's steps
  int64_t images = 128;         // at most this many of the given images
  bool mirror = true;           // and each one mirrored
  int threads = 1;
  uint64_t seed = 1;
  // Both networks' activations at two cuts (PairedActivations): fewer images when they would
  // need more.
  int64_t max_activation_bytes = default_activation_budget();
};

struct BlockResult {
  std::string first, last;  // the block's first and last layers
  // Mean squared difference from the float block's output, per value, on a fixed set of the
  // items, before and after tuning; the tuned block is kept only when it is lower.
  double error_before = 0, error_after = 0;
  bool kept = false;
  std::string skipped;  // why the block was left as it was (an op training does not support)
};

// Layers [begin, end) of `model` form the blocks (as above) that hold a quantized convolution.
std::vector<std::pair<int64_t, int64_t>> reconstruction_blocks(const Model& model);

// model: the reference's graph, its convolutions shared (codes fixed); reference: the float
// network; images: n inputs (N x C x H x W). progress(blocks done, blocks) may return an
// error to stop. kLimit when even a batch of images does not fit max_activation_bytes.
Result<std::vector<BlockResult>> reconstruct_blocks(
    Model& model, const Model& reference, const float* images, int64_t n,
    const BlockOptions& options, const std::function<Status(int, int)>& progress);

}  // namespace sqz::pipeline
