#include <algorithm>

#include "sqz/kernels/sgemm.h"

namespace sqz::kernels {
namespace {

// Positions per block: the outer operand's dot_rows rows of a block fill at most half of a thread's
// L1d share (they are read once per tile of the inner operand), and the inner operand's rows of a
// block at most half of one thread's L2 (read once per row tile of the outer one). A multiple of
// the lanes, so that every block but the last is whole vectors and the lanes keep their
// positions (t mod lanes) from block to block.
int64_t nt_k_block(const GemmKernel& kernel, int64_t inner_rows) {
  const Machine& mc = machine();
  const int64_t by_l1 = l1d_per_thread(mc) / 2 / (4 * kernel.dot_rows);
  const int64_t by_l2 = l2_per_thread(mc) / 2 / (4 * std::max<int64_t>(1, inner_rows));
  const int64_t kc = std::min(by_l1, by_l2) / kernel.dot_lanes * kernel.dot_lanes;
  return std::max<int64_t>(kernel.dot_lanes, kc);
}

// Each of `count` elements' L lanes (consecutive, in place) added pairwise, halving (the order
// sgemm_nt documents); element e's sum is left in v[e * L].
template <int L>
void add_lanes(float* v, int64_t count) {
  for (int64_t e = 0; e < count; ++e, v += L)
    for (int half = L / 2; half >= 1; half /= 2)
      for (int l = 0; l < half; ++l) v[l] += v[l + half];
}

void add_lanes(float* v, int64_t count, int lanes) {
  if (lanes == 16) return add_lanes<16>(v, count);  // every kernel's, unrolled
  for (int64_t e = 0; e < count; ++e, v += lanes)
    for (int half = lanes / 2; half >= 1; half /= 2)
      for (int l = 0; l < half; ++l) v[l] += v[l + half];
}

// Writes the sums of one row tile (rows of the outer operand from i0; their accumulators
// acc, lanes still apart) into C, transposed back when the operands were swapped.
void store_tile(float* acc, int rows, int64_t i0, int64_t inner_rows, int lanes, bool swap,
                float* c, int64_t ldc) {
  add_lanes(acc, rows * inner_rows, lanes);
  for (int r = 0; r < rows; ++r)
    for (int64_t j = 0; j < inner_rows; ++j) {
      const float v = acc[(r * inner_rows + j) * lanes];
      if (swap)
        c[j * ldc + i0 + r] = v;
      else
        c[(i0 + r) * ldc + j] = v;
    }
}

}  // namespace

void sgemm_nt(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b,
              int64_t ldb, float* c, int64_t ldc, std::vector<float>* scratch,
              const GemmKernel& kernel, int64_t k_block) {
  // The operand with more rows is the outer one, the other's block passing from L2 under
  // each of its row tiles; a * b and b * a are the same float, so either way the same bits.
  const bool swap = n > m;
  const float* outer = swap ? b : a;
  const float* inner = swap ? a : b;
  const int64_t ldo = swap ? ldb : lda, ldi = swap ? lda : ldb;
  const int64_t outer_rows = swap ? n : m, inner_rows = swap ? m : n;
  const int rows_max = kernel.dot_rows, cols_max = kernel.dot_cols, lanes = kernel.dot_lanes;
  const int64_t kc = k_block > 0 ? (k_block + lanes - 1) / lanes * lanes
                                 : nt_k_block(kernel, inner_rows);
  // Row tiles in groups whose accumulators fill at most a quarter of one thread's L2; within a
  // group the K blocks are outermost, so that a block of the inner operand comes from memory
  // once per group and passes from L2 under each of the group's tiles. (Before session 34 all
  // of K ran under one row tile after another, streaming the whole inner operand once per
  // tile: 16 times, 21 MB each, for v1.1's conv1 weight gradient at 224x224, batch 16.) Each
  // accumulator still takes the blocks in order: the same bits.
  const int64_t tiles = (outer_rows + rows_max - 1) / rows_max;
  const int64_t per_tile = int64_t{rows_max} * inner_rows * lanes;
  const int64_t group = std::clamp<int64_t>(
      l2_per_thread(machine()) / 4 / (4 * std::max<int64_t>(per_tile, 1)), 1,
      std::max<int64_t>(tiles, 1));
  const size_t need = static_cast<size_t>(group * per_tile);
  if (scratch->size() < need) scratch->resize(need);  // grown only, as sgemm's
  for (int64_t g0 = 0; g0 < tiles; g0 += group) {
    const int64_t g1 = std::min(tiles, g0 + group);
    auto rows_of = [&](int64_t t) {
      return static_cast<int>(std::min<int64_t>(rows_max, outer_rows - t * rows_max));
    };
    if (k == 0) std::fill(scratch->begin(), scratch->begin() + need, 0.0f);
    for (int64_t k0 = 0; k0 < k; k0 += kc)
      for (int64_t t = g0; t < g1; ++t) {
        float* acc = scratch->data() + (t - g0) * per_tile;
        for (int64_t j0 = 0; j0 < inner_rows; j0 += cols_max)
          kernel.dot(outer + t * rows_max * ldo + k0, ldo, inner + j0 * ldi + k0, ldi,
                     std::min(kc, k - k0), acc + j0 * lanes, inner_rows, k0 > 0, rows_of(t),
                     static_cast<int>(std::min<int64_t>(cols_max, inner_rows - j0)));
      }
    for (int64_t t = g0; t < g1; ++t)
      store_tile(scratch->data() + (t - g0) * per_tile, rows_of(t), t * rows_max, inner_rows,
                 lanes, swap, c, ldc);
  }
}

}  // namespace sqz::kernels
