// binary16 conversions for the .sqz float_coding 1 (SPEC 1.1), by Eigen's portable half type.
#include <Eigen/Core>

#include "sqz_internal.h"

namespace sqz::format::detail {

uint16_t f32_to_f16(float f) { return Eigen::half_impl::raw_half_as_uint16(Eigen::half(f)); }

float f16_to_f32(uint16_t bits) {
  return static_cast<float>(Eigen::half(Eigen::half_impl::raw_uint16_to_half(bits)));
}

}  // namespace sqz::format::detail
