// Helpers the convolution ops share (internal to the kernels library).
#pragma once

#include <algorithm>
#include <cstring>
#include <vector>

#include "sqz/kernels/conv_op.h"

namespace sqz::kernels::detail {

// Whether weight i has a code (codes follow the mask's ones in weight order; without a mask
// every weight has one).
inline bool has_code(const ConvWeights& w, int64_t i) { return !w.mask || w.mask[i]; }

// The index in w.codes of each of `rows` rows' first code (rows of k weights), then the count
// of codes: a row's codes follow in weight order, so that an op visiting a row's weights in
// order counts them from there (a table of every weight's index took 8 bytes a weight).
inline std::vector<int64_t> row_code_starts(const ConvWeights& w, int64_t rows, int64_t k) {
  std::vector<int64_t> start(static_cast<size_t>(rows) + 1);
  int64_t n = 0;
  for (int64_t r = 0; r < rows; ++r) {
    start[static_cast<size_t>(r)] = n;
    n += w.mask
             ? std::count_if(w.mask + r * k, w.mask + (r + 1) * k, [](uint8_t m) { return m != 0; })
             : k;
  }
  start[static_cast<size_t>(rows)] = n;
  return start;
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
