// Codebook refit under the layer's input moment. k-means (quantize_layer) places each
// centroid at the mean of its weights, which minimises the weights' squared error; with the
// codes fixed, the centroids that minimise the layer's output error
//   sum over output channels o of (w'_o - t_o)^T H (w'_o - t_o),  w'_o[i] = c[code(o, i)]
// solve the normal equations G c = r, G[a][b] = sum_o sum_{i: code a, j: code b} H[i][j],
// r[a] = sum_o sum_{i: code a} (H t_o)[i] (pruned positions stay 0). This is Deep
// Compression's centroid fine-tuning (Han et al., ICLR 2016, Sec. 3.3: the gradients of the
// weights sharing a centroid summed into it) solved in closed form for the output of one
// layer, as layer-wise reconstruction does for scale and offset (AdaQuant, Hubara et al. 2021).
#pragma once

#include <vector>

#include "sqz/core/graph.h"
#include "sqz/core/status.h"
#include "sqz/quantize/gptq.h"

namespace sqz::quantize {

struct RefitStats {
  double error_before = 0;  // the objective above with the codebook given
  double error_after = 0;   // with the codebook kept (never above error_before)
  bool changed = false;     // the refitted codebook was kept
};

// Refits the codebook of a quantized convolution to `target` (OIHW, its float weights or a
// drift target) under `moment`, keeping its codes, and writes the shared values back. The
// codebook stays strictly ascending with no exact 0 (codes renumbered when centroids cross);
// a centroid no code uses keeps its value. Kept only when the objective falls.
// H is `moment` with damping x its mean diagonal added (as GptqOptions::damping; the errors
// in RefitStats are under it). kInvalidArgument when the moment or target does not fit the
// layer, or the damping is negative.
Result<RefitStats> refit_codebook(Layer& layer, const std::vector<float>& target,
                                  const InputMoment& moment, double damping);

// The normal equations above for the layer's codes (n = its codebook's size): G (n x n,
// row-major) then r (n). The moment and target must fit (refit_codebook checks them).
std::vector<double> refit_system(const Layer& layer, const std::vector<float>& target,
                                 const InputMoment& moment);

namespace ref {
// The same system built position pair by position pair: refit_system's twin for tests.
std::vector<double> refit_system(const Layer& layer, const std::vector<float>& target,
                                 const InputMoment& moment);
}  // namespace ref

}  // namespace sqz::quantize
