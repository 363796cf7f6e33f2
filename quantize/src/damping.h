// GPTQ's damping of one group's k x k block of H (Frantar et al. 2023, Sec. 4): dead inputs
// (H[i][i] <= 0) get 1 on the diagonal, so their weights only meet their own error, then
// damping x the block's mean diagonal is added to every diagonal entry. Shared by the code
// sweep (gptq.cc), the drift targets (drift.cc) and the codebook refit (refit.cc).
#pragma once

#include <cstdint>

namespace sqz::quantize::detail {

// The mean of the block's diagonal, or 1 when it is not positive (a layer never excited).
inline double mean_diagonal(const double* h, int64_t k) {
  double mean = 0;
  for (int64_t i = 0; i < k; ++i) mean += h[i * k + i];
  return mean > 0 ? mean / static_cast<double>(k) : 1.0;
}

// In place on a k x k block whose undamped diagonal has mean `mean` (mean_diagonal).
inline void damp_diagonal(double* block, int64_t k, double damping, double mean) {
  for (int64_t i = 0; i < k; ++i) {
    double& d = block[i * k + i];
    if (d <= 0) d = 1;
    d += damping * mean;
  }
}

}  // namespace sqz::quantize::detail
