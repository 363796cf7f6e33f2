// Lossy codings of biases and codebooks (SPEC, LAYER float_coding): binary16 conversions by
// Eigen's portable half type, and 8-bit biases.
#include <Eigen/Core>
#include <algorithm>
#include <cmath>

#include "sqz_internal.h"

namespace sqz::format::detail {

uint16_t f32_to_f16(float f) { return Eigen::half_impl::raw_half_as_uint16(Eigen::half(f)); }

float f16_to_f32(uint16_t bits) {
  return static_cast<float>(Eigen::half(Eigen::half_impl::raw_uint16_to_half(bits)));
}

Int8Biases quantize_biases(const std::vector<float>& b) {
  Int8Biases out;
  float max_abs = 0;
  for (float v : b) max_abs = std::max(max_abs, std::fabs(v));
  out.scale = max_abs / 127.0f;
  out.q.reserve(b.size());
  for (float v : b)
    out.q.push_back(
        out.scale > 0 ? static_cast<int8_t>(std::clamp<long>(std::lround(v / out.scale), -127, 127))
                      : int8_t{0});
  return out;
}

std::vector<float> dequantize_biases(const Int8Biases& b) {
  std::vector<float> out(b.q.size());
  for (size_t i = 0; i < b.q.size(); ++i) out[i] = b.scale * static_cast<float>(b.q[i]);
  return out;
}

}  // namespace sqz::format::detail
