// Data-aware code assignment for weight sharing. k-means picks a layer's codebook from its
// weights alone, and rounding each weight to its nearest centroid ignores how the layer's
// inputs correlate. With H = sum of x x^T over the layer's calibration inputs x (receptive
// fields), the layer's output error for shared weights w' against w is, per output channel,
// (w - w')^T H (w - w'). Error-compensating sequential assignment (Optimal Brain Compression,
// Frantar & Alistarh 2022, Sec. 4; GPTQ, Frantar et al. 2023, Sec. 4) takes the weights one
// input position at a time, gives each its nearest centroid, and moves the weights not yet
// assigned by -err * H^-1[i, j] / H^-1[i, i] so that they absorb that error; pruned
// positions take 0 the same way. Here the levels are the layer's codebook instead of a
// uniform grid, and each output channel keeps whichever of this and plain nearest-centroid
// rounding has the smaller error under H, so that the result is never worse than rounding.
#pragma once

#include <cstdint>
#include <vector>

#include "sqz/core/graph.h"
#include "sqz/core/status.h"

namespace sqz::quantize {

// The second moment of a convolution's input per group: blocks of k x k (row-major,
// symmetric), k = in_channels / groups * kernel_h * kernel_w in the weights' (c, y, x) order.
struct InputMoment {
  int64_t k = 0;
  int64_t groups = 1;
  std::vector<double> h;  // groups * k * k
  int64_t samples = 0;    // receptive fields summed
};

struct GptqOptions {
  double damping = 0.01;  // added to H's diagonal, times its mean (GPTQ's lambda)
  bool act_order = true;  // assign input positions in descending H[i][i] (GPTQ's act-order)
  // Rate-aware codes (entropy-constrained quantization, Choi et al., ICLR 2017): > 0 puts a
  // price on each code's bits (from the layer's nearest-code histogram) of rate_weight times
  // the group's own distortion-rate slope, and each weight takes the centroid near it with
  // the least error plus price; a channel keeps its nearest codes where their error plus
  // price is lower. 0: the nearest centroid in the sweep (error only).
  double rate_weight = 0;
  // Then coordinate descent on each row's codes, at most this many passes over its positions
  // (each position takes the centroid that lowers the row's error, plus price, the most):
  // the sweep's greedy codes made a local minimum under single changes. 0: the sweep's codes.
  // Measured on the release SqueezeNet at 370,000 bytes (docs/tutorial.md): KL 0.0163 ->
  // 0.0146 on one fold of the five.
  int descent_passes = 8;
  // Then at most this many passes of pair moves (code_descent.h: two positions at once, each
  // one centroid up or down), each followed by the descent above again; stops at a pass that
  // moves nothing. 0: single changes only. Measured on the release SqueezeNet
  // (docs/tutorial.md), five folds pooled: KL 0.0150 -> 0.0129 at 370,000 bytes, 0.0067 ->
  // 0.0058 at 400,000.
  int pair_passes = 8;
};

struct GptqStats {
  double nearest_error = 0;  // sum over channels of (w - w')^T H (w - w'), the codes given
  double error = 0;          // the same for the codes kept
  int64_t rows = 0;
  int64_t rows_nearest = 0;  // channels where rounding was kept (it was better)
  int64_t descent_changes = 0;  // codes the descent changed (singly or in pairs)
  int64_t pair_moves = 0;       // pairs of codes moved together
};

// Checks that `moment` fits the layer (k, groups, finite values, non-negative diagonal).
Status check_moment(const Layer& layer, const InputMoment& moment);

// Reassigns the codes of a quantized convolution (quantize::quantize_layer's output: mask,
// codebook, codes) from its weights before quantization, `original` (OIHW), and writes the
// shared values back; a channel keeps the codes it has (nearest, after quantize_layer) where
// they are as good. Deterministic. Pruned positions stay pruned.
Result<GptqStats> assign_codes(Layer& layer, const std::vector<float>& original,
                               const InputMoment& moment, const GptqOptions& options);

// sum over output channels of (w - w')^T H (w - w'): w' the layer's current weights.
double reconstruction_error(const Layer& layer, const std::vector<float>& original,
                            const InputMoment& moment);

namespace ref {
// The same assignment in its textbook form (OBC): the inverse H of the positions not yet
// assigned kept explicitly and shrunk by one position per step. O(k^3) per group; the twin of
// assign_codes for tests.
Result<GptqStats> assign_codes(Layer& layer, const std::vector<float>& original,
                               const InputMoment& moment, const GptqOptions& options);
}  // namespace ref

}  // namespace sqz::quantize
