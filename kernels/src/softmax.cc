#include "sqz/kernels/softmax.h"

#include <algorithm>
#include <cmath>

namespace sqz::kernels {

void softmax_f32(const float* x, int64_t outer, int64_t c, int64_t inner, float* y) {
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t p = 0; p < inner; ++p) {
      const float* src = x + o * c * inner + p;
      float* dst = y + o * c * inner + p;
      float m = -INFINITY;
      for (int64_t k = 0; k < c; ++k) m = std::max(m, src[k * inner]);
      double sum = 0;
      for (int64_t k = 0; k < c; ++k) sum += std::exp(double{src[k * inner]} - m);
      for (int64_t k = 0; k < c; ++k)
        dst[k * inner] = static_cast<float>(std::exp(double{src[k * inner]} - m) / sum);
    }
}

}  // namespace sqz::kernels
