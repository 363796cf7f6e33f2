#include "sqz/kernels/gemm.h"

#include <algorithm>
#include <cstddef>

extern "C" {
void sqz_gemm_6x64_f32_avx512(const float*, const float*, int64_t, int64_t, const float*, bool,
                              float*, int64_t, int, int);
void sqz_gemm_6x16_f32_avx2(const float*, const float*, int64_t, int64_t, const float*, bool,
                            float*, int64_t, int, int);
void sqz_gemm_6x8_f32_generic(const float*, const float*, int64_t, int64_t, const float*, bool,
                              float*, int64_t, int, int);
void sqz_gemm_acc_6x64_f32_avx512(const float*, const float*, int64_t, int64_t, const float*,
                                  bool, float*, int64_t, int, int);
void sqz_gemm_acc_6x16_f32_avx2(const float*, const float*, int64_t, int64_t, const float*, bool,
                                float*, int64_t, int, int);
void sqz_gemm_acc_6x8_f32_generic(const float*, const float*, int64_t, int64_t, const float*,
                                  bool, float*, int64_t, int, int);
void sqz_direct_8x3x16_f32_avx512(const float*, const float*, const int32_t*, int64_t,
                                  const float*, bool, float*, int64_t, int, int, int64_t,
                                  int64_t, int);
void sqz_direct_6x16_f32_avx2(const float*, const float*, const int32_t*, int64_t, const float*,
                              bool, float*, int64_t, int, int, int64_t, int64_t, int);
void sqz_direct_6x8_f32_generic(const float*, const float*, const int32_t*, int64_t,
                                const float*, bool, float*, int64_t, int, int, int64_t, int64_t,
                                int);
void sqz_dot_4x6_f32_avx512(const float*, int64_t, const float*, int64_t, int64_t, float*,
                            int64_t, bool, int, int);
void sqz_dot_3x2_f32_avx2(const float*, int64_t, const float*, int64_t, int64_t, float*, int64_t,
                          bool, int, int);
void sqz_dot_1x3_f32_generic(const float*, int64_t, const float*, int64_t, int64_t, float*,
                             int64_t, bool, int, int);
}

namespace sqz::kernels {
namespace {

const GemmKernel kAvx512{"gemm_6x64_f32_avx512",        6,  64, 16, sqz_gemm_6x64_f32_avx512,
                        Isa::kAvx512,                  sqz_gemm_acc_6x64_f32_avx512,
                        "direct_8x3x16_f32_avx512",    8, 3, 16, sqz_direct_8x3x16_f32_avx512,
                        "dot_4x6_f32_avx512",          4,  6,  16, sqz_dot_4x6_f32_avx512};
const GemmKernel kAvx2{"gemm_6x16_f32_avx2",      6,  16, 8, sqz_gemm_6x16_f32_avx2,
                      Isa::kAvx2,                sqz_gemm_acc_6x16_f32_avx2,
                      "direct_6x16_f32_avx2",     6, 1, 16, sqz_direct_6x16_f32_avx2,
                      "dot_3x2_f32_avx2",         3, 2,  16,  sqz_dot_3x2_f32_avx2};
const GemmKernel kGeneric{"gemm_6x8_f32_generic",       6,  8, 4, sqz_gemm_6x8_f32_generic,
                         Isa::kGeneric,                sqz_gemm_acc_6x8_f32_generic,
                         "direct_6x8_f32_generic",     6, 1, 8, sqz_direct_6x8_f32_generic,
                         "dot_1x3_f32_generic",        1, 3, 16, sqz_dot_1x3_f32_generic};

bool cpu_has_avx512() { return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma"); }
bool cpu_has_avx2() { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }

}  // namespace

std::vector<const GemmKernel*> runnable_gemm_kernels() {
  __builtin_cpu_init();
  std::vector<const GemmKernel*> out;
  if (cpu_has_avx512()) out.push_back(&kAvx512);
  if (cpu_has_avx2()) out.push_back(&kAvx2);
  out.push_back(&kGeneric);
  return out;
}

const GemmKernel& best_gemm_kernel() {
  static const GemmKernel* best = [] {
    for (const GemmKernel* k : runnable_gemm_kernels())
      if (static_cast<int>(k->isa) <= static_cast<int>(machine().isa)) return k;
    return &kGeneric;
  }();
  return *best;
}

const GemmKernel* gemm_kernel_for(Isa isa) {
  if (static_cast<int>(isa) > static_cast<int>(machine().isa)) return nullptr;
  for (const GemmKernel* k : runnable_gemm_kernels())
    if (k->isa == isa) return k;
  return nullptr;
}

int64_t gemm_k_block(const GemmKernel& kernel) {
  return std::max<int64_t>(16, l1d_per_thread(machine()) / 2 / (4 * kernel.nr));
}

std::vector<float> pack_gemm_a(const float* a, int64_t rows, int64_t k, int mr) {
  const int64_t panels = (rows + mr - 1) / mr;
  std::vector<float> out(static_cast<std::size_t>(panels * k * mr), 0.0f);
  for (int64_t p = 0; p < panels; ++p)
    for (int64_t r = 0; r < mr && p * mr + r < rows; ++r)
      for (int64_t i = 0; i < k; ++i) out[(p * k + i) * mr + r] = a[(p * mr + r) * k + i];
  return out;
}

}  // namespace sqz::kernels
