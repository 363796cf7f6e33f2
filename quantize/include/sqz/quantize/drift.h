// Weight sharing against drifted inputs. When the layers before a convolution are already
// compressed, its input x is no longer the reference network's input x_ref at the same place,
// and matching the shared weights w' to the layer's own weights w under E[x x^T] (gptq.h) aims
// at the wrong output. The output to match is the reference layer's, w_ref . x_ref: the
// least-squares weights for that from the drifted inputs are
//   w* = w + H^-1 (C w_ref - H w),  H = sum x x^T,  C = sum x x_ref^T
// (written as a correction to w so that damping H only damps the correction), after which
// (w' - w*)^T H (w' - w*) is the output error up to a constant, the objective assign_codes
// already minimises. The means are then matched by the bias. This is GPTQ's sequential
// calibration (Frantar et al. 2023, Sec. 4, "sequential") with the reference network's
// outputs as targets (as in GPTAQ / GPTQv2's asymmetric calibration, Li et al. 2025), and
// bias correction as in data-free quantization (Nagel et al., ICCV 2019, Sec. 4.2).
#pragma once

#include <cstdint>
#include <vector>

#include "sqz/core/graph.h"
#include "sqz/core/status.h"
#include "sqz/quantize/gptq.h"

namespace sqz::quantize {

// What a convolution's drifted input x and the reference input x_ref share, per group: sums
// over the same receptive fields of the same images.
struct CrossMoment {
  int64_t k = 0;
  int64_t groups = 1;
  std::vector<double> cross;          // groups x k x k: sum x x_ref^T (row i: x_i)
  std::vector<double> sum;            // groups x k: sum x
  std::vector<double> reference_sum;  // groups x k: sum x_ref
  int64_t samples = 0;                // fields summed, per group
};

// Checks that `cross` and `own` (the drifted input's InputMoment) fit the layer and each other.
Status check_cross_moment(const Layer& layer, const InputMoment& own, const CrossMoment& cross);

// w* above for every output channel of `layer` (its float weights, OIHW), given the reference
// layer's weights (same shape). damping: added to H's diagonal times its mean (as GptqOptions).
// kInvalidArgument when the shapes or moments do not fit. A group whose H cannot be factored
// at any damping keeps its weights (w* = w there).
Result<std::vector<float>> drift_target(const Layer& layer, const std::vector<float>& reference,
                                        const InputMoment& own, const CrossMoment& cross,
                                        double damping);

// Moves each output channel's bias so that the layer's mean output over the fields equals
// the reference layer's: b = b_ref + w_ref . mean(x_ref) - w' . mean(x), w' the layer's current
// (shared) weights. reference_bias: empty when the reference has none (then 0).
Status match_output_means(Layer& layer, const std::vector<float>& reference,
                          const std::vector<float>& reference_bias, const CrossMoment& cross);

}  // namespace sqz::quantize
