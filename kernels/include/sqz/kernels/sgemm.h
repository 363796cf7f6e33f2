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

// C[M x N] = A[M x K] x B[N x K]^T with both operands stored along K (row strides lda, ldb),
// as dot products (kernel.dot): for the weight gradient dW = dY x cols^T, whose operands both
// run along the pixels and which sgemm would first transpose into panels. Element (i, j): lane
// l of kernel.dot_lanes adds A[i][t] * B[j][t] for t = l (mod dot_lanes) in order, then the
// lanes are added pairwise (lane l + lane l + h, for h = dot_lanes / 2, ..., 1). That order
// differs from sgemm's. It does not depend on k_block (0: derived from the caches), the tiles,
// which operand has more rows, or the vector width: AVX2 and AVX-512 give the same bits (the
// portable build, without FMA, rounds each product before adding it). scratch: as sgemm's.
void sgemm_nt(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b,
              int64_t ldb, float* c, int64_t ldc, std::vector<float>* scratch,
              const GemmKernel& kernel = best_gemm_kernel(), int64_t k_block = 0);

}  // namespace sqz::kernels
