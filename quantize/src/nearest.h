// Nearest-centroid lookup shared by the quantizers.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

namespace sqz::quantize::detail {

// Index of the nearest centroid (ties go to the lower one), the distances computed in T.
// REQUIRES: c ascending, non-empty.
template <typename T>
uint8_t nearest(const std::vector<float>& c, T x) {
  const size_t hi = static_cast<size_t>(std::upper_bound(c.begin(), c.end(), x) - c.begin());
  if (hi == 0) return 0;
  if (hi == c.size()) return static_cast<uint8_t>(c.size() - 1);
  return static_cast<uint8_t>(x - T{c[hi - 1]} <= T{c[hi]} - x ? hi - 1 : hi);
}

}  // namespace sqz::quantize::detail
