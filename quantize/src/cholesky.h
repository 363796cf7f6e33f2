// Dense Cholesky factorisation and solves for the quantizers' small symmetric systems (k x k,
// k = a convolution's receptive field, at most a few thousand).
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

namespace sqz::quantize::detail {

// In place: the lower Cholesky factor of a symmetric positive definite a (upper part zeroed).
// False when a is not positive definite (or not finite).
inline bool cholesky_lower(std::vector<double>& a, int64_t n) {
  for (int64_t j = 0; j < n; ++j) {
    double d = a[j * n + j];
    for (int64_t p = 0; p < j; ++p) d -= a[j * n + p] * a[j * n + p];
    if (!(d > 0) || !std::isfinite(d)) return false;
    d = std::sqrt(d);
    a[j * n + j] = d;
    for (int64_t i = j + 1; i < n; ++i) {
      double s = a[i * n + j];
      for (int64_t p = 0; p < j; ++p) s -= a[i * n + p] * a[j * n + p];
      a[i * n + j] = s / d;
    }
    for (int64_t i = 0; i < j; ++i) a[i * n + j] = 0;
  }
  return true;
}

// x = (L L^T)^-1 b in place, L from cholesky_lower.
inline void cholesky_solve(const std::vector<double>& l, int64_t n, double* b) {
  for (int64_t i = 0; i < n; ++i) {
    double s = b[i];
    for (int64_t p = 0; p < i; ++p) s -= l[i * n + p] * b[p];
    b[i] = s / l[i * n + i];
  }
  for (int64_t i = n - 1; i >= 0; --i) {
    double s = b[i];
    for (int64_t p = i + 1; p < n; ++p) s -= l[p * n + i] * b[p];
    b[i] = s / l[i * n + i];
  }
}

}  // namespace sqz::quantize::detail
