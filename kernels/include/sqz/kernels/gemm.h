// Dense GEMM micro-kernels for convolution: C[m, n] = sum_k A[m, k] * B[k, n] + bias[m],
// optionally followed by ReLU. A (the weights) is packed once at load in panels of MR rows;
// B (the im2col'd input) is packed per call in panels of NR columns. Layout of the packs:
//   a_packed: for each row panel p (rows p*MR .. p*MR+MR-1, zero-padded): [K][MR]
//   b: K rows of at least NR readable floats, row stride ldb (a packed panel has ldb = NR)
#pragma once

#include <cstdint>
#include <vector>

#include "sqz/kernels/machine.h"

namespace sqz::kernels {

// Computes one MR x NR tile and stores its top-left rows x cols corner to c (row stride ldc).
// bias: MR values (the panel's), never null. REQUIRES: rows <= MR, cols <= NR. Only the
// vectors that hold `cols` columns are computed (and read from b); an element's bits do not
// depend on cols.
using GemmTileFn = void (*)(const float* a_panel, const float* b, int64_t ldb, int64_t k,
                            const float* bias, bool relu, float* c, int64_t ldc, int rows,
                            int cols);

// The direct convolution's tile (direct_conv in conv_op.h): `rows` (<= direct_rows) output
// channels x `height` (<= direct_height) output rows x `cols` (<= direct_width) consecutive
// output columns, out[r * ldo + h * out_step + x] = bias[r] + sum over taps i of
// w[i * direct_rows + r] * in[h * in_step + off[i] + x] (then the ReLU when relu): the GEMM
// tile's arithmetic with B's rows read at offsets instead of a stride. Rows past `height` are
// neither read nor written.
using DirectTileFn = void (*)(const float* w, const float* in, const int32_t* off, int64_t k,
                              const float* bias, bool relu, float* out, int64_t ldo, int rows,
                              int cols, int64_t in_step, int64_t out_step, int height);

// The dot-product tile of sgemm_nt (sgemm.h): for rows (<= dot_rows) rows of a and cols
// (<= dot_cols) rows of b, both read along k (row strides lda, ldb), the dot_lanes partial
// sums of each pair, at acc + (r * ldacc + s) * dot_lanes: lane l adds the products of the
// positions t = l (mod dot_lanes) in order, starting from zero or, when from_acc, from acc
// (an earlier range of positions: any split of k into multiples of dot_lanes gives the
// same bits). The last vector is zero-padded past k.
using DotTileFn = void (*)(const float* a, int64_t lda, const float* b, int64_t ldb, int64_t k,
                           float* acc, int64_t ldacc, bool from_acc, int rows, int cols);

struct GemmKernel {
  const char* name;  // e.g. "gemm_6x64_f32_avx512"
  int mr, nr;
  int vec_floats;  // floats per vector: the tile reads and computes whole vectors
  GemmTileFn tile;
  Isa isa;
  // As tile, but the accumulators start from c's rows x cols corner instead of the bias (not
  // read): a K-blocked product's later blocks, which then add their products in the same
  // order as one unblocked tile would.
  GemmTileFn tile_acc;
  // The same ISA's direct convolution tile, e.g. "direct_8x3x16_f32_avx512" (channels x
  // output rows x columns).
  const char* direct_name;
  int direct_rows, direct_height, direct_width;
  DirectTileFn direct;
  // The same ISA's dot-product tile, e.g. "dot_4x6_f32_avx512": dot_rows x dot_cols pairs,
  // dot_lanes partial sums each (16 on every ISA: one or more vectors).
  const char* dot_name;
  int dot_rows, dot_cols, dot_lanes;
  DotTileFn dot;
};

// The widest kernel of machine().isa (AVX-512, AVX2+FMA, or the portable build: the CPU's
// widest unless SQZ_ISA lowers it).
const GemmKernel& best_gemm_kernel();
// Every kernel this CPU can run, fastest first (for tests and benchmarks).
std::vector<const GemmKernel*> runnable_gemm_kernels();
// The kernel of `isa` when the CPU runs it and machine().isa (SQZ_ISA) allows it, else null.
const GemmKernel* gemm_kernel_for(Isa isa);

// K-block of a product on this machine for `kernel`: B's kc x NR panel fills half of a thread's
// share of the L1d (l1d_per_thread), so that it stays there while every row panel of A passes
// over it (Goto and van de Geijn, "Anatomy of High-Performance Matrix Multiplication", ACM TOMS
// 2008, sec. 4).
int64_t gemm_k_block(const GemmKernel& kernel);

// Packs rows x k row-major weights (row stride k) into MR-row panels; see layout above.
std::vector<float> pack_gemm_a(const float* a, int64_t rows, int64_t k, int mr);

}  // namespace sqz::kernels
