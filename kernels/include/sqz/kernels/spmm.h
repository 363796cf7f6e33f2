// Sparse x dense micro-kernels for convolution (XNNPACK's f32-spmm idea, in CHW): the weights
// are a CSR matrix over the GEMM's K (one row per output channel), the B matrix (input or
// im2col) is read in place. Values are float32: a codebook layer (Deep Compression's weight
// sharing) keeps uint8 codes and decodes them into a scratch array once per forward pass.
#pragma once

#include <cstdint>
#include <vector>

#include "sqz/kernels/machine.h"

namespace sqz::kernels {

// Computes rows x W outputs for the first W = vecs x SpmmKernel::vec_floats columns of a
// column panel (vecs in 1..nr / vec_floats; vecs = nr / vec_floats: the whole panel):
//   c[r][j] = (accumulate ? c[r][j] : bias[r]) + sum over nz in [row_start[r], row_start[r+1])
//             of values[nz] * b[cols[nz] * ldb + j], then ReLU when relu.
// b must have W readable floats per used row; c has row stride ldc and W floats a row are
// written. An output's bits do not depend on vecs.
using SpmmF32Fn = void (*)(const uint32_t* row_start, const uint16_t* cols, const float* values,
                           const float* bias, int64_t rows, const float* b, int64_t ldb,
                           bool accumulate, bool relu, float* c, int64_t ldc, int vecs);

// The same over whole-kernel blocks: row r holds blocks [row_start[r], row_start[r+1]); block
// k covers the kb consecutive B rows from cols[k] with the kb values from values[k * kb]
// (one index per kernel of a layer pruned at kernel granularity).
using SpmmBlocksFn = void (*)(const uint32_t* row_start, const uint16_t* cols, const float* values,
                              int kb, const float* bias, int64_t rows, const float* b, int64_t ldb,
                              bool accumulate, bool relu, float* c, int64_t ldc, int vecs);

// Two output rows at a time: rows 2p and 2p+1 form pair p (an odd last row pairs with
// nothing). Pair p's entries are [pair_start[3p], pair_start[3p+3]): first those both rows
// use, up to pair_start[3p+1], with two values each (row 2p's, then row 2p+1's); then row
// 2p's own, up to pair_start[3p+2]; then row 2p+1's own. Its values start at
// values[value_start[p]], in entry order. Otherwise as SpmmF32Fn.
using SpmmPairsFn = void (*)(const uint32_t* pair_start, const uint32_t* value_start,
                             const uint16_t* cols, const float* values, const float* bias,
                             int64_t rows, const float* b, int64_t ldb, bool accumulate, bool relu,
                             float* c, int64_t ldc, int vecs);

struct SpmmKernel {
  const char* name;  // e.g. "spmm_64_f32_avx512"
  int nr;
  int vec_floats;  // floats per vector: a panel is nr / vec_floats of them
  SpmmF32Fn f32;
  SpmmBlocksFn blocks;
  Isa isa;
  SpmmPairsFn pairs = nullptr;  // where the ISA has the registers for two rows
};

// A CSR regrouped for SpmmPairsFn: append_pairs adds the pairs of `rows` rows (entries
// [row_start[0], row_start[rows])) to pair_start, value_start and cols, and to `source` the
// index of the CSR entry each value comes from (values are then values[source[i]]).
// pair_start gets 3 offsets per pair; the caller closes the list with cols.size().
struct PairedCsr {
  std::vector<uint32_t> pair_start, value_start, source;
  std::vector<uint16_t> cols;
};
void append_pairs(const uint32_t* row_start, const uint16_t* cols, int64_t rows, PairedCsr* out);

// The widest kernel of machine().isa (see best_gemm_kernel); every kernel the CPU runs.
const SpmmKernel& best_spmm_kernel();
std::vector<const SpmmKernel*> runnable_spmm_kernels();
// The kernel of `isa` when the CPU runs it and machine().isa (SQZ_ISA) allows it, else null.
const SpmmKernel* spmm_kernel_for(Isa isa);

namespace ref {
// Naive twin of the SpMM micro-kernel, for any column count.
void spmm(const uint32_t* row_start, const uint16_t* cols, const float* values, const float* bias,
          int64_t rows, const float* b, int64_t ldb, int ncols, bool relu, float* c, int64_t ldc);
// Naive twin of the two-row micro-kernel.
void spmm_pairs(const uint32_t* pair_start, const uint32_t* value_start, const uint16_t* cols,
                const float* values, const float* bias, int64_t rows, const float* b, int64_t ldb,
                int ncols, bool relu, float* c, int64_t ldc);
// Naive twin of the whole-kernel-block micro-kernel.
void spmm_blocks(const uint32_t* row_start, const uint16_t* cols, const float* values, int kb,
                 const float* bias, int64_t rows, const float* b, int64_t ldb, int ncols, bool relu,
                 float* c, int64_t ldc);
}  // namespace ref

}  // namespace sqz::kernels
