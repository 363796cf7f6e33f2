// im2col for one CHW image: row (c, i, j) of the [C*kh*kw][out_h*out_w] matrix holds the input
// pixel each output position sees through kernel tap (i, j) of channel c (0 in the padding).
#pragma once

#include "conv_shape.h"

namespace sqz::rt {

// Fills rows [begin, end) over all groups (row = g*K + k), for output columns
// [col0, col0 + ncols) (a column = oy*out_w + ox). col: rows of ncols floats, row stride ld
// (>= ncols; 0 means ncols). A stride of whole cache lines keeps the kernels' vector loads
// from splitting across two lines.
void im2col(const ConvShape& s, const float* in, float* col, int64_t begin, int64_t end,
            int64_t col0, int64_t ncols, int64_t ld = 0);

// The row stride that starts every row on a cache line: ncols rounded up to 16 floats.
inline int64_t aligned_stride(int64_t ncols) { return (ncols + 15) / 16 * 16; }

// True when the B matrix is the input itself (1x1, stride 1, no padding).
inline bool conv_reads_input_directly(const ConvShape& s) {
  return s.kh == 1 && s.kw == 1 && s.sh == 1 && s.sw == 1 && s.ph == 0 && s.pw == 0;
}

}  // namespace sqz::rt
