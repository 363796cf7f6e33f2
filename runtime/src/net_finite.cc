// The runtime's checks of inputs and outputs for NaNs and infinities (net.h).
#include <cmath>
#include <cstring>
#include <string>

#include "sqz/kernels/cpu_clones.h"
#include "sqz/runtime/net.h"

namespace sqz::runtime {

namespace {

// Whether any of n floats is NaN or infinite: its exponent field all ones, the only one to
// which adding one carries into the sign bit. And, add and or, which the compiler vectorizes
// (std::isfinite with an early exit it does not), for the CPU's widest ISA.
SQZ_CPU_CLONES bool any_non_finite(const float* x, int64_t n) {
  constexpr int kLanes = 16;  // a fixed-width inner loop: vectorized at -O2 too
  uint32_t carried[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    uint32_t bits[kLanes];
    std::memcpy(bits, x + i, sizeof bits);
    for (int j = 0; j < kLanes; ++j) carried[j] |= (bits[j] & 0x7f800000u) + 0x00800000u;
  }
  for (; i < n; ++i) {
    uint32_t bits;
    std::memcpy(&bits, x + i, sizeof bits);
    carried[0] |= (bits & 0x7f800000u) + 0x00800000u;
  }
  uint32_t all = 0;
  for (uint32_t c : carried) all |= c;
  return (all & 0x80000000u) != 0;
}

// The first NaN or infinity of `images` x per_image floats as an error: "<what> value K[ of
// image N] is NaN<why>" (images counted from first_image; not named when it is negative).
Status first_non_finite(const float* x, int64_t images, int64_t per_image, int64_t first_image,
                        const char* what, ErrorCode code, const char* why) {
  if (!any_non_finite(x, images * per_image)) return Status::ok();
  for (int64_t i = 0; i < images * per_image; ++i)
    SQZ_RETURN_ERROR_IF(
        !std::isfinite(x[i]), code,
        std::string(what) + " value " + std::to_string(i % per_image) +
            (first_image < 0 ? std::string()
                             : " of image " + std::to_string(first_image + i / per_image)) +
            " is " + (std::isnan(x[i]) ? "NaN" : "infinite") + why);
  return Status::ok();
}

}  // namespace

Status check_finite_inputs(const float* input, int64_t images, int64_t per_image) {
  return first_non_finite(input, images, per_image, 0, "input", ErrorCode::kInvalidArgument,
                          "; the net takes finite inputs");
}

Status check_finite_outputs(const float* output, int64_t images, int64_t per_image,
                            int64_t first_image) {
  return first_non_finite(
      output, images, per_image, first_image, "output", ErrorCode::kLimit,
      ": the network's sums overflowed float32 (weights or inputs too large for it)");
}

}  // namespace sqz::runtime
