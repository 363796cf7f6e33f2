#include "sqz/kernels/spmm.h"

#define SQZ_DECLARE_SPMM(nr, isa)                                                                 \
  void sqz_spmm_##nr##_f32_##isa(const uint32_t*, const uint16_t*, const float*, const float*,    \
                                 int64_t, const float*, int64_t, bool, bool, float*, int64_t);    \
  void sqz_spmm_blocks_##nr##_f32_##isa(const uint32_t*, const uint16_t*, const float*, int,      \
                                        const float*, int64_t, const float*, int64_t, bool, bool, \
                                        float*, int64_t);

extern "C" {
SQZ_DECLARE_SPMM(64, avx512)
SQZ_DECLARE_SPMM(64, avx2)
SQZ_DECLARE_SPMM(16, generic)
}

namespace sqz::kernels {
namespace {

const SpmmKernel kAvx512{"spmm_64_f32_avx512", 64, sqz_spmm_64_f32_avx512,
                         sqz_spmm_blocks_64_f32_avx512, Isa::kAvx512};
const SpmmKernel kAvx2{"spmm_64_f32_avx2", 64, sqz_spmm_64_f32_avx2, sqz_spmm_blocks_64_f32_avx2,
                       Isa::kAvx2};
const SpmmKernel kGeneric{"spmm_16_f32_generic", 16, sqz_spmm_16_f32_generic,
                          sqz_spmm_blocks_16_f32_generic, Isa::kGeneric};

}  // namespace

std::vector<const SpmmKernel*> runnable_spmm_kernels() {
  __builtin_cpu_init();
  std::vector<const SpmmKernel*> out;
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma")) out.push_back(&kAvx512);
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) out.push_back(&kAvx2);
  out.push_back(&kGeneric);
  return out;
}

const SpmmKernel& best_spmm_kernel() {
  static const SpmmKernel* best = [] {
    for (const SpmmKernel* k : runnable_spmm_kernels())
      if (static_cast<int>(k->isa) <= static_cast<int>(machine().isa)) return k;
    return &kGeneric;
  }();
  return *best;
}

const SpmmKernel* spmm_kernel_for(Isa isa) {
  if (static_cast<int>(isa) > static_cast<int>(machine().isa)) return nullptr;
  for (const SpmmKernel* k : runnable_spmm_kernels())
    if (k->isa == isa) return k;
  return nullptr;
}

namespace ref {

void spmm(const uint32_t* row_start, const uint16_t* cols, const float* values, const float* bias,
          int64_t rows, const float* b, int64_t ldb, int ncols, bool relu, float* c, int64_t ldc) {
  for (int64_t r = 0; r < rows; ++r)
    for (int j = 0; j < ncols; ++j) {
      double acc = bias[r];
      for (uint32_t nz = row_start[r]; nz < row_start[r + 1]; ++nz)
        acc += double{values[nz]} * b[cols[nz] * ldb + j];
      c[r * ldc + j] = static_cast<float>(relu && acc < 0 ? 0.0 : acc);
    }
}

void spmm_blocks(const uint32_t* row_start, const uint16_t* cols, const float* values, int kb,
                 const float* bias, int64_t rows, const float* b, int64_t ldb, int ncols, bool relu,
                 float* c, int64_t ldc) {
  for (int64_t r = 0; r < rows; ++r)
    for (int j = 0; j < ncols; ++j) {
      double acc = bias[r];
      for (uint32_t k = row_start[r]; k < row_start[r + 1]; ++k)
        for (int t = 0; t < kb; ++t)
          acc += double{values[int64_t{k} * kb + t]} * b[(cols[k] + t) * ldb + j];
      c[r * ldc + j] = static_cast<float>(relu && acc < 0 ? 0.0 : acc);
    }
}

}  // namespace ref
}  // namespace sqz::kernels
