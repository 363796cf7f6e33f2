// General single-precision matrix product over the dispatched GEMM tiles (gemm.h):
// C[M x N] = A[M x K] * B[K x N], all row-major. Packs A per call; for the training engine.
#pragma once

#include <cstdint>
#include <vector>

#include "sqz/kernels/gemm.h"

namespace sqz::kernels {

// scratch: resized as needed (packed A, the last partial B panel). transpose_a: A is given as
// its K x M transpose (lda is then the row stride of that K x M matrix).
void sgemm(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, bool transpose_a,
           const float* b, int64_t ldb, float* c, int64_t ldc, std::vector<float>* scratch,
           const GemmKernel& kernel = best_gemm_kernel());

}  // namespace sqz::kernels
