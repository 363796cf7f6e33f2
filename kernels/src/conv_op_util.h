// Helpers the convolution ops share (internal to the kernels library).
#pragma once

#include <algorithm>
#include <cstring>
#include <vector>

#include "sqz/kernels/conv_op.h"

namespace sqz::kernels::detail {

// Number of stored positions before each weight index (prefix ranks over the mask).
inline std::vector<int64_t> code_index(const ConvWeights& w, int64_t n) {
  std::vector<int64_t> idx(static_cast<size_t>(n), -1);
  for (int64_t i = 0, k = 0; i < n; ++i)
    if (!w.mask || w.mask[i]) idx[static_cast<size_t>(i)] = k++;
  return idx;
}

inline void copy_bias(const ConvWeights& w, int64_t out_c, std::vector<float>* bias) {
  bias->assign(static_cast<size_t>(out_c), 0.0f);
  if (w.bias) std::copy(w.bias, w.bias + out_c, bias->begin());
}

// Runs the B panel at column n0 of a block through `tile`: in place when the tile's reads
// (whole vectors of vec_floats) stay inside B's rows of ldb floats (ConvOp::run_items: every
// row is readable to ldb), else (the last panel of a B read in place) copied zero-padded into
// scratch so that no read runs past the matrix. Columns past the block's are garbage in the
// tile's output, which the caller does not store.
template <typename Tile>
void for_panel(const ConvShape& s, int nr, int vec_floats, const float* b, int64_t ldb,
               int64_t ncols, int64_t g, int64_t n0, float* scratch, Tile tile) {
  const int64_t k = s.k_per_group(), n = ldb;
  const int cols = static_cast<int>(std::min<int64_t>(nr, ncols - n0));
  const int64_t reads = std::min<int64_t>(nr, (cols + vec_floats - 1) / vec_floats * vec_floats);
  const float* panel = b + g * k * n + n0;
  if (cols == nr || n0 + reads <= ldb) return tile(panel, n, cols);
  for (int64_t r = 0; r < k; ++r) {
    std::memcpy(scratch + r * nr, panel + r * n, sizeof(float) * cols);
    std::fill(scratch + r * nr + cols, scratch + (r + 1) * nr, 0.0f);
  }
  tile(scratch, nr, cols);
}

}  // namespace sqz::kernels::detail
