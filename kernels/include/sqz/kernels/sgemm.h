// General single-precision matrix product over the dispatched GEMM tiles (gemm.h):
// C[M x N] = A[M x K] * B[K x N], row-major C; A and B each given as stored or as their
// transpose. For the training engine and the calibration statistics.
#pragma once

#include <cstdint>
#include <vector>

#include "sqz/kernels/gemm.h"

namespace sqz::kernels {

// An operand of sgemm: `data` row-major with row stride `ld`, holding the operand itself or,
// when `transposed`, its transpose (A as K x M, B as N x K).
struct GemmOperand {
  const float* data;
  int64_t ld;
  bool transposed = false;
};

// K is cut into blocks of `k_block` (0: gemm_k_block) so that B's panel stays in L1 while
// every row panel of A passes over it (Goto and van de Geijn, "Anatomy of High-Performance
// Matrix Multiplication", ACM TOMS 2008); each tile of a later block starts from the partial sums
// the earlier ones stored, so the products are added in the same order whatever the block:
// the result does not depend on it, bit for bit. scratch: grown as needed, never shrunk (A's
// block packed in MR-row panels, one B panel); its contents are neither read nor kept.
void sgemm(int64_t m, int64_t n, int64_t k, GemmOperand a, GemmOperand b, float* c, int64_t ldc,
           std::vector<float>* scratch, const GemmKernel& kernel = best_gemm_kernel(),
           int64_t k_block = 0);

}  // namespace sqz::kernels
