// What every convolution op shares: the sum with a residual after its items.
#include <algorithm>

#include "sqz/kernels/conv_op.h"
#include "sqz/kernels/eltwise.h"

namespace sqz::kernels {

void ConvOp::add_residual(int64_t item, int64_t ncols, int row_blocks, float* out, int64_t ldc,
                          const float* residual) const {
  const int64_t ocg = s_.out_c / s_.groups;
  int64_t g, n0, block;
  split_item(item, ncols, row_blocks, &g, &n0, &block);
  const int64_t cols = std::min<int64_t>(nr_, ncols - n0);
  const int64_t r1 = g * ocg + block_first_row(block + 1, row_blocks);
  for (int64_t r = g * ocg + block_first_row(block, row_blocks); r < r1; ++r)
    accumulate_f32(cols, residual + r * ldc + n0, out + r * ldc + n0);
}

void ConvOp::run_items_adding(const float* b, int64_t ldb, int64_t ncols, float* out,
                              int64_t ldc, int row_blocks, int64_t begin, int64_t end,
                              float* scratch, const float* shared, const float* residual) const {
  if (!residual) return run_items(b, ldb, ncols, out, ldc, row_blocks, begin, end, scratch, shared);
  for (int64_t item = begin; item < end; ++item) {
    run_items(b, ldb, ncols, out, ldc, row_blocks, item, item + 1, scratch, shared);
    add_residual(item, ncols, row_blocks, out, ldc, residual);
  }
}

void ConvOp::run_items_on_image_adding(const float* in, int64_t c0, int64_t ncols, float* out,
                                       int64_t ldc, int row_blocks, int64_t begin, int64_t end,
                                       float* scratch, const float* shared,
                                       const float* residual) const {
  if (!residual)
    return run_items_on_image(in, c0, ncols, out, ldc, row_blocks, begin, end, scratch, shared);
  for (int64_t item = begin; item < end; ++item) {
    run_items_on_image(in, c0, ncols, out, ldc, row_blocks, item, item + 1, scratch, shared);
    add_residual(item, ncols, row_blocks, out, ldc, residual);
  }
}

}  // namespace sqz::kernels
