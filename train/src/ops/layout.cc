#include <algorithm>

#include "ops.h"

namespace sqz::train {

void to_channel_major(const float* __restrict nchw, int64_t n, int64_t c, int64_t hw,
                      float* __restrict out) {
  for (int64_t ch = 0; ch < c; ++ch)
    for (int64_t b = 0; b < n; ++b)
      std::copy_n(nchw + (b * c + ch) * hw, hw, out + (ch * n + b) * hw);
}

void to_image_major(const float* __restrict cnhw, int64_t n, int64_t c, int64_t hw,
                    float* __restrict out) {
  for (int64_t ch = 0; ch < c; ++ch)
    for (int64_t b = 0; b < n; ++b)
      std::copy_n(cnhw + (ch * n + b) * hw, hw, out + (b * c + ch) * hw);
}

}  // namespace sqz::train
