#include "sqz/kernels/eltwise.h"

#include "sqz/kernels/cpu_clones.h"

namespace sqz::kernels {

SQZ_CPU_CLONES void add_f32(int64_t n, const float* a, const float* b, float* dst) {
  for (int64_t i = 0; i < n; ++i) dst[i] = a[i] + b[i];
}

SQZ_CPU_CLONES void accumulate_f32(int64_t n, const float* src, float* dst) {
  for (int64_t i = 0; i < n; ++i) dst[i] += src[i];
}

}  // namespace sqz::kernels
