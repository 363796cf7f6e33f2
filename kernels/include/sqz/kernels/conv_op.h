// One convolution layer's execution plan over a B matrix (the input itself, or its im2col;
// see im2col.h): weights packed once at creation, in the layout its kernel reads.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sqz/kernels/conv_shape.h"
#include "sqz/kernels/gemm.h"
#include "sqz/kernels/spmm.h"

namespace sqz::kernels {

class ConvOp {
 public:
  virtual ~ConvOp() = default;
  virtual std::string kernel_name() const = 0;
  // Independent work items for `ncols` columns of one image with each group's output channels
  // split into `row_blocks` blocks: (group, column panel, row block) triples, the row block
  // varying fastest (consecutive items share their B panel). Any split computes every output
  // with the same operations in the same order: results do not depend on it.
  int64_t work_items(int64_t ncols, int row_blocks) const {
    return s_.groups * ((ncols + nr_ - 1) / nr_) * row_blocks;
  }
  // The most row blocks worth making (each keeps at least a few micro-tiles of rows).
  virtual int max_row_blocks() const = 0;
  // Floats of per-thread scratch one run_items call needs.
  virtual int64_t scratch_floats() const = 0;
  // Floats of per-forward scratch shared by all threads (filled by prepare), or 0.
  virtual int64_t shared_floats() const { return 0; }
  // Fills shared floats [begin, end) (of shared_floats()); once per forward, every range
  // before any run_items (ranges may be filled by different threads).
  virtual void prepare(float* /*shared*/, int64_t /*begin*/, int64_t /*end*/) const {}
  // Columns per panel of B that the kernel computes at a time.
  int nr() const { return nr_; }
  // Whether a 1x1 layer whose input planes do not start on cache lines should still give this
  // op its input in place rather than a copy with aligned rows: the dense GEMM loses less to
  // split loads than the copy costs, the SpMM more (bench_conv measures both).
  virtual bool prefers_unaligned_rows() const = 0;
  // Computes work items [begin, end) over a block of ncols columns. b: the B rows of the block
  // (input or im2col; row stride ldb, group g's rows start at g*K*ldb), each readable to ldb
  // floats (a last panel is read in place, past ncols, where that stays inside its row; what
  // the columns past ncols hold never reaches out); out: the block's first column of output
  // channel 0, channel stride ldc.
  virtual void run_items(const float* b, int64_t ldb, int64_t ncols, float* out, int64_t ldc,
                         int row_blocks, int64_t begin, int64_t end, float* scratch,
                         const float* shared) const = 0;
  // The first output row (within its group) of row block `block` of `row_blocks`; block ==
  // row_blocks gives the group's end.
  virtual int64_t block_first_row(int64_t block, int row_blocks) const {
    return s_.out_c / s_.groups * block / row_blocks;
  }
  // run_items, each item's outputs then summed with `residual` (laid out as out: the block's
  // first column of channel 0, channel stride ldc) while they are still in cache: a
  // convolution and the element-wise sum after it (a bypass, Iandola et al. 2016, Sec. 6)
  // without a pass over memory for the sum. The same bits as run_items and then add_f32 on
  // the whole output, as floating-point addition commutes. A null residual: run_items.
  void run_items_adding(const float* b, int64_t ldb, int64_t ncols, float* out, int64_t ldc,
                        int row_blocks, int64_t begin, int64_t end, float* scratch,
                        const float* shared, const float* residual) const;
  // Whether the op can build its own B (run_items_on_image): an SpMM over a size-keeping
  // convolution's im2col (conv_keeps_size, more than one tap).
  virtual bool builds_b_from_image() const { return false; }
  // run_items over the im2col of columns [c0, c0 + ncols) of one image `in` (CHW), which the op
  // builds itself: each panel's K chunk into scratch, in L1, right before the kernel reads it,
  // where a block's im2col built beforehand is read from L2. The same bits as kernels::im2col
  // of those columns, then run_items. REQUIRES: builds_b_from_image().
  virtual void run_items_on_image(const float* /*in*/, int64_t /*c0*/, int64_t /*ncols*/,
                                  float* /*out*/, int64_t /*ldc*/, int /*row_blocks*/,
                                  int64_t /*begin*/, int64_t /*end*/, float* /*scratch*/,
                                  const float* /*shared*/) const {}
  // run_items_on_image with each item's outputs summed with `residual`, as run_items_adding.
  void run_items_on_image_adding(const float* in, int64_t c0, int64_t ncols, float* out,
                                 int64_t ldc, int row_blocks, int64_t begin, int64_t end,
                                 float* scratch, const float* shared, const float* residual) const;
  // Bytes of weights, indices, codebooks and biases this op keeps.
  virtual int64_t resident_bytes() const = 0;

  // A direct op (make_direct_conv) reads each image's input itself, arranged by
  // arrange_input into arranged_floats() floats, instead of a B matrix (run_items is not
  // called); 0 for the others.
  virtual int64_t arranged_floats() const { return 0; }
  // Arranges input channels [c0, c1) of one CHW image (ranges may run on different threads).
  virtual void arrange_input(const float* /*in*/, float* /*arranged*/, int64_t /*c0*/,
                             int64_t /*c1*/) const {}
  // Output channel panels of a direct op: direct_panel_channels() channels each (the last may
  // have fewer), computed by one tile.
  virtual int64_t direct_panels() const { return 0; }
  virtual int64_t direct_panel_channels() const { return 0; }
  // Output rows the direct tile computes at a time (an item's rows).
  virtual int64_t direct_tile_rows() const { return 1; }
  // Output rows [y0, y1) of channel panel `panel` of one image: row y of the panel's c-th
  // channel into out + c * plane + (y - y0) * out_w. Every output is computed the same way
  // whatever the rows, panels and destination: any split gives the same bits.
  virtual void run_direct_rows(const float* /*arranged*/, int64_t /*panel*/, int64_t /*y0*/,
                               int64_t /*y1*/, float* /*out*/, int64_t /*plane*/,
                               const float* /*shared*/) const {}
  // Independent work items of one image: (the tile's rows of output, channel panel), the
  // panel fastest.
  int64_t direct_items() const {
    return (s_.out_h + direct_tile_rows() - 1) / direct_tile_rows() * direct_panels();
  }
  // Computes items [begin, end) of one image into out (CHW).
  void run_direct(const float* arranged, float* out, int64_t begin, int64_t end,
                  const float* shared) const {
    const int64_t panels = direct_panels(), plane = s_.out_size(), th = direct_tile_rows();
    for (int64_t item = begin; item < end; ++item) {
      const int64_t y = item / panels * th, p = item % panels;
      run_direct_rows(arranged, p, y, std::min(s_.out_h, y + th),
                      out + p * direct_panel_channels() * plane + y * s_.out_w, plane, shared);
    }
  }

  const ConvShape& shape() const { return s_; }

 protected:
  ConvOp(const ConvShape& s, int nr) : s_(s), nr_(nr) {}
  // Item -> (group, first column, row block).
  void split_item(int64_t item, int64_t ncols, int row_blocks, int64_t* g, int64_t* n0,
                  int64_t* block) const {
    const int64_t panels = (ncols + nr_ - 1) / nr_;
    *block = item % row_blocks;
    *n0 = (item / row_blocks % panels) * nr_;
    *g = item / row_blocks / panels;
  }
  // Item's outputs += residual (both laid out as run_items_adding's out).
  void add_residual(int64_t item, int64_t ncols, int row_blocks, float* out, int64_t ldc,
                    const float* residual) const;
  ConvShape s_;
  int nr_;
};

// The weights of one layer as the runtime receives them. weight: dense OIHW (used when codes
// is empty); mask: empty or one flag per weight; codes: one per stored position (mask order)
// with their codebook. bias: out_c values or null.
struct ConvWeights {
  const float* weight = nullptr;
  const uint8_t* mask = nullptr;
  const uint8_t* codes = nullptr;
  const float* codebook = nullptr;
  int codebook_size = 0;
  const float* bias = nullptr;
};

// Dense GEMM from float32 weights packed once, or from uint8 codes packed the same
// way and expanded per forward into shared scratch (codebook weights stay 1 byte each). With
// k_block > 0, K is taken in blocks of k_block rows (gemm_k_block: B's panel stays in L1 while
// the row panels pass over it), each block's tiles starting from the sums the earlier ones
// stored: the outputs are the same bits for any block.
std::unique_ptr<ConvOp> make_dense_conv(const ConvShape& s, const ConvWeights& w, bool relu,
                                        const GemmKernel& kernel, int64_t k_block = 0);

// Direct convolution (groups 1) on the input itself, with no im2col: the input padded and
// split by column phase (column x of phase q is padded column x * stride_w + q), so that a
// tap's inputs for consecutive output columns are consecutive floats, read by the ISA's
// direct tile (gemm.h) over packed weights, float32 or codes expanded per forward. The taps
// are added in im2col's row order, so the outputs are the same bits as make_dense_conv's.
// Null for grouped convolutions, windows that reach past the padding, or an arranged input
// past 32-bit offsets.
std::unique_ptr<ConvOp> make_direct_conv(const ConvShape& s, const ConvWeights& w, bool relu,
                                         const GemmKernel& kernel);

// A direct op's output pooled by a max pooling `ps` (whose input is the op's output) without
// storing that output whole: pooled rows [r0, r1) of channel panel `panel` of one image, from
// the convolution rows their windows read, computed `band_rows` pooled rows at a time into
// `band` (direct_conv_band_floats floats; rows a band shares with the next are kept, not
// recomputed), each band pooled into out (the pooling's output, CHW). The same bits as
// run_direct then maxpool2d_f32, for any band and any split of rows and panels.
void direct_conv_maxpool_rows(const ConvOp& op, const float* arranged, const float* shared,
                              const PoolShape& ps, int64_t panel, int64_t r0, int64_t r1,
                              int64_t band_rows, float* band, float* out);
// Floats of the band direct_conv_maxpool_rows needs for `band_rows` pooled rows.
int64_t direct_conv_band_floats(const ConvOp& op, const PoolShape& ps, int64_t band_rows);

// The same for an op over im2col (make_dense_conv, make_sparse_conv; groups 1), all output
// channels at once: pooled rows [r0, r1) of one image (input `in`, CHW), each band's new
// convolution rows built by im2col into `cols` (im2col_conv_cols_floats) and run by
// op.run_items into `band` (im2col_conv_band_floats; `scratch`: op.scratch_floats()). The same
// bits as run_items over the whole image then maxpool2d_f32: each output is computed as in any
// column block.
void im2col_conv_maxpool_rows(const ConvOp& op, const float* in, const float* shared,
                              const PoolShape& ps, int64_t r0, int64_t r1, int64_t band_rows,
                              float* cols, float* band, float* scratch, float* out);
int64_t im2col_conv_band_floats(const ConvOp& op, const PoolShape& ps, int64_t band_rows);
int64_t im2col_conv_cols_floats(const ConvOp& op, const PoolShape& ps, int64_t band_rows);

// CSR x codebook (or float32) SpMM. REQUIRES: K per group <= 65536. The K dimension is cut
// into chunks whose B panel (chunk rows x NR floats) is `chunk_bytes` (0: a thread's share of
// the L1d, l1d_per_thread; at least 16 rows): each chunk's B stays in L1 while every output row
// sweeps it. With a kernel of two accumulator sets, another chunk size moves where they are added
// (the last bits). With pair_rows, a kernel that has a two-row form (SpmmKernel::pairs) runs the
// output rows in pairs, summing in another order than the one-row form.
std::unique_ptr<ConvOp> make_sparse_conv(const ConvShape& s, const ConvWeights& w, bool relu,
                                         const SpmmKernel& kernel, int64_t chunk_bytes = 0,
                                         bool pair_rows = true);

}  // namespace sqz::kernels
