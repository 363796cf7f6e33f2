// im2col for one CHW image: row (c, i, j) of the [C*kh*kw][out_h*out_w] matrix holds the input
// pixel each output position sees through kernel tap (i, j) of channel c (0 in the padding).
#pragma once

#include <cstdint>

#include "sqz/kernels/conv_shape.h"

namespace sqz::kernels {

// Fills rows [begin, end) over all groups (row = g*K + k), for output columns
// [col0, col0 + ncols) (a column = oy*out_w + ox). col: rows of ncols floats, row stride ld
// (>= ncols; 0 means ncols). A stride of whole cache lines keeps the kernels' vector loads
// from splitting across two lines. A size-keeping shape (conv_keeps_size) is built as
// im2col_same_batch does, a shifted copy a row; any other by output row segments.
void im2col(const ConvShape& s, const float* in, float* col, int64_t begin, int64_t end,
            int64_t col0, int64_t ncols, int64_t ld = 0);
// As im2col, with channel c's plane at in + c * plane_stride instead of c * in_h * in_w (the
// training engine's batches, which keep a channel's planes of every image together).
void im2col_strided(const ConvShape& s, const float* in, int64_t plane_stride, float* col,
                    int64_t begin, int64_t end, int64_t col0, int64_t ncols, int64_t ld);

// dst[x] = src[x * stride] for x < n (stride >= 1; the ranges apart), vectorized for stride 2
// (this file is built with -O3, which GCC needs for it): the direct convolution's arrangement.
void copy_strided(const float* src, int64_t stride, int64_t n, float* dst);

// Whether a convolution keeps its input's size at stride 1 (padding (k - 1) / 2 each side, as
// SqueezeNet's 3x3 expands): im2col_same_batch's requirement.
inline bool conv_keeps_size(const ConvShape& s) {
  return s.sh == 1 && s.sw == 1 && s.out_h == s.in_h && s.out_w == s.in_w && s.groups == 1 &&
         2 * s.ph == s.kh - 1 && 2 * s.pw == s.kw - 1;
}

// Rows [begin, end) for n images at once, the training engine's batch layout: channel c's n
// planes one after another at in + c * n * hw, and row r's n * hw columns (image by image) at
// col + r * ld. Row (c, i, j) is then channel c's block shifted by (i - ph) rows and (j - pw)
// columns: one copy, then zeros where the window reads the padding (which the copy filled from
// a neighbouring row or image). The same floats as im2col_strided per image, in a fraction of
// its time on small planes. REQUIRES: conv_keeps_size(s).
void im2col_same_batch(const ConvShape& s, const float* in, int64_t n, float* col, int64_t begin,
                       int64_t end, int64_t ld);
// Columns [col0, col0 + ncols) of the same rows (column col0 at col + row * ld). With n = 1,
// im2col's floats for one image; im2col takes this path for every size-keeping shape.
void im2col_same_batch(const ConvShape& s, const float* in, int64_t n, float* col, int64_t begin,
                       int64_t end, int64_t col0, int64_t ncols, int64_t ld);

// Row `row` of im2col_same_batch's matrix for n images: out[p] = block[p + shift] (block:
// channel `channel`'s n planes) for the columns p in [lo, hi) whose window is inside the
// image; every other column reads the padding, and zero_padding_columns zeroes those in
// [lo, hi) (the rest lie outside the block). For the training engine's adjoint (col2im).
struct SameBatchRow {
  int64_t channel, shift, lo, hi;
};
SameBatchRow same_batch_row(const ConvShape& s, int64_t row, int64_t n);
void zero_padding_columns(const ConvShape& s, int64_t row, int64_t n, float* out);

// Columns of an im2col block of at most `floats` floats, whole 64-column panels, at least one,
// at most the plane (floats <= 0: a quarter of a thread's share of L2, so that the block's rows
// stay there while the kernel sweeps them, beside the weights it streams). The runtime's
// per-thread column blocks.
int64_t im2col_block_columns(const ConvShape& s, int64_t floats = 0);

// One column panel of a size-keeping im2col (conv_keeps_size, one image), built by an SpMM op
// chunk by chunk into its L1 right before the kernel reads it (ConvOp::run_items_on_image),
// instead of a block's im2col built into L2 beforehand.
//
// same_panel_masks: kh*kw rows of `width` words; lane x of tap t's row is all ones where column
// col0 + x (x < cols) sees an input pixel through tap t, 0 where it sees the padding or lies
// past the panel's `cols` columns. REQUIRES: width <= kMaxPanelWidth, a multiple of 16.
constexpr int64_t kMaxPanelWidth = 256;
void same_panel_masks(const ConvShape& s, int64_t col0, int64_t cols, int64_t width,
                      uint32_t* masks);
// Rows [begin, end) of im2col's columns [col0, col0 + width) (row `begin` at dst, stride ld):
// channel c's plane shifted by tap t's offset, ANDed with tap t's mask. im2col's floats in the
// panel's columns, +0 past them. A row is read as `width` consecutive floats wherever they lie
// inside the image's planes (the mask drops what comes from a neighbouring row or plane), else
// only its masked lanes are read. REQUIRES: masks from same_panel_masks for this panel.
void im2col_same_panel(const ConvShape& s, const float* in, int64_t col0, int64_t width,
                       const uint32_t* masks, int64_t begin, int64_t end, float* dst, int64_t ld);

// The same rows from a copy of the input with its padding written out (pad_planes): every
// window then lies inside the plane and a row segment is one plain (or strided) copy, without
// the bounds arithmetic of im2col, which on SqueezeNet's 13- to 55-wide rows is most of
// im2col's time. Gives the same floats as im2col.
void im2col_padded(const ConvShape& s, const float* padded, float* col, int64_t begin, int64_t end,
                   int64_t col0, int64_t ncols, int64_t ld);

// Channels [c0, c1) of the input into planes of (in_h + 2 ph) x (in_w + 2 pw) floats, the
// border zero.
void pad_planes(const ConvShape& s, const float* in, float* padded, int64_t c0, int64_t c1);
inline int64_t padded_plane(const ConvShape& s) {
  return (s.in_h + 2 * s.ph) * (s.in_w + 2 * s.pw);
}
// Whether every window lies inside the padded plane (im2col_padded's requirement; true for
// any output size from the convolution formula).
inline bool windows_inside_padding(const ConvShape& s) {
  return (s.out_h - 1) * s.sh + s.kh <= s.in_h + 2 * s.ph &&
         (s.out_w - 1) * s.sw + s.kw <= s.in_w + 2 * s.pw;
}

// The row stride of the B buffers the runtime builds: every row starts on a cache line (ncols
// rounded up to 16 floats), and the stride is an odd number of lines, so that a panel's rows
// fall in every set of a set-associative L1 (with a stride of 2^j lines they share 64 / 2^j
// sets: 147 rows x 16 floats at a 256-float stride ran 8% slower in the AVX2 GEMM tile than
// at 272, Zen 3). Costs at most one line per row.
inline int64_t aligned_stride(int64_t ncols) { return ((ncols + 15) / 16 | 1) * 16; }

// Whether rows of ncols floats, one after another, each start on a cache line.
inline bool rows_on_lines(int64_t ncols) { return ncols % 16 == 0; }

// True when the B matrix is the input itself (1x1, stride 1, no padding).
inline bool conv_reads_input_directly(const ConvShape& s) {
  return s.kh == 1 && s.kw == 1 && s.sh == 1 && s.sw == 1 && s.ph == 0 && s.pw == 0;
}

}  // namespace sqz::kernels
