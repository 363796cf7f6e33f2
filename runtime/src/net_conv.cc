// Convolution execution (Net::Impl::run_conv): how a layer's work is cut for the threads and
// where its B matrix comes from (the input in place, a copy with aligned rows, or kernels::im2col).
#include <algorithm>
#include <cstring>
#include <numeric>

#include "sqz/kernels/im2col.h"
#include "sqz/kernels/ref/conv_ref.h"
#include "net_impl.h"
#include "sqz/kernels/machine.h"

namespace sqz::runtime {

namespace {

// Row blocks for a layer with `items` (image, group, column panel) items: enough that every
// thread gets several items (the pool cuts them into equal chunks, four per thread), within
// what the op finds worth splitting. 1 on one thread.
int row_blocks_for(const ConvOp& op, int64_t items, int threads) {
  if (threads <= 1) return 1;
  const int64_t want = (8 * int64_t{threads} + items - 1) / items;
  return static_cast<int>(std::clamp<int64_t>(want, 1, op.max_row_blocks()));
}

// A layer whose whole kernels::im2col (all images) is at most this many floats (four times one thread's
// L2) builds it once, shared by all threads, which then split output channels as well as
// columns: the late layers have too few columns to give every thread a block of its own.
int64_t shared_im2col_floats() {
  return 4 * kernels::l2_per_thread(machine()) / static_cast<int64_t>(sizeof(float));
}
// With at least this many column panels per thread, threads take column blocks and build
// each block's kernels::im2col themselves, so B stays in the core's own L2 and no thread reads
// what another core wrote. A shared kernels::im2col is written by all threads, so half of what
// a thread reads comes from another core: 10-20% on the 55x55 and 27x27 expands of the
// development machine, and on the Zen 4 of session 23 the 27x27 expands ran 1.7x faster in
// blocks when its vCPUs were slow to share (docs/performance-log.md). One panel a thread
// suffices.
constexpr int64_t kPanelsPerThread = 1;

}  // namespace

// Expands the codes of a codebook layer into shared floats, split over the threads unless it
// is as short as a parallel_for call (2048 codes, a few hundred ns). The other threads wait
// while one decodes: at 16384, most of v1.1's layers (2 to 16 thousand codes) were decoded by
// one thread, and 2 threads ran v1.1 3% slower (docs/performance-log.md).
void Net::Impl::prepare_shared(const ConvOp& op) {
  const int64_t n = op.shared_floats();
  if (n == 0) return;
  if (n < 2048) return op.prepare(shared.data(), 0, n);
  pool->parallel_for(pool->threads(), [&](int64_t begin, int64_t end, int) {
    op.prepare(shared.data(), n * begin / pool->threads(), n * end / pool->threads());
  });
}

// The inputs kernels::im2col_padded reads: each image's planes with their padding written out (in
// parallel over images and channels), or the inputs themselves when there is no padding.
std::vector<const float*> Net::Impl::pad_inputs(const ConvShape& s,
                                                const std::vector<const float*>& ins) {
  if (s.ph == 0 && s.pw == 0) return ins;
  const int64_t images = static_cast<int64_t>(ins.size()), per_image = s.in_c * padded_plane(s);
  padded.resize(std::max(padded.size(), static_cast<size_t>(images * per_image)));
  pool->parallel_for(images * s.in_c, [&](int64_t begin, int64_t end, int) {
    for (int64_t w = begin; w < end;) {
      const int64_t b = w / s.in_c, stop = std::min(end, (b + 1) * s.in_c);
      kernels::pad_planes(s, ins[b], padded.data() + b * per_image, w - b * s.in_c, stop - b * s.in_c);
      w = stop;
    }
  });
  std::vector<const float*> out(ins.size());
  for (int64_t b = 0; b < images; ++b) out[b] = padded.data() + b * per_image;
  return out;
}

// Where a convolution's B matrix comes from in one call of execute_conv.
struct Net::Impl::BSource {
  bool direct = false;    // a 1x1 layer: B is the input itself
  bool in_place = false;  // B read from the inputs as they are
  bool shared = false;    // B built once for all images and threads (else per-thread blocks)
  bool from_padded = false;  // im2col from padded copies of the inputs
  bool by_op = false;        // the op builds B itself, panel by panel (per-thread column blocks)
  int64_t rows = 0, ld = 0;  // B's rows (all groups) and the row stride of a shared B
};

Net::Impl::BSource Net::Impl::b_source(const ConvPlan& p, const ConvOp& op, int64_t images) const {
  const ConvShape& s = p.run_shape;
  const int64_t n = s.out_size();
  BSource src;
  src.direct = kernels::conv_reads_input_directly(s);
  src.rows = s.groups * s.k_per_group();
  src.ld = kernels::aligned_stride(n);
  // The SpMM wants B rows starting on cache lines (a split vector load costs two): a 1x1
  // layer reads its input in place when its rows are so or its op does not mind (ConvOp),
  // else copies it with aligned rows. That copy, like a kernels::im2col, is built once and
  // shared by all threads when small, else by each thread for its column blocks (a 1x1's
  // copy was always shared before session 32: 2 threads ran v1.1 6-10% slower so,
  // docs/performance-log.md).
  src.in_place = src.direct && (kernels::rows_on_lines(n) || op.prefers_unaligned_rows());
  // An SpMM over a size-keeping layer builds its B itself, each panel's K chunks in its L1 right
  // before it reads them, unless told to build im2col blocks or share one.
  const ConvSchedule::Split split = p.schedule.split;
  src.by_op = (split == ConvSchedule::Split::kRule || split == ConvSchedule::Split::kPanels) &&
              op.builds_b_from_image();
  const int64_t panels = images * ((n + op.nr() - 1) / op.nr());
  const ConvSchedule& sched = p.schedule;
  const bool rule_shared = panels < kPanelsPerThread * pool->threads() &&
                           images * src.rows * src.ld <= shared_im2col_floats();
  src.shared =
      !src.in_place && !src.by_op &&
      (sched.split == ConvSchedule::Split::kRule ? rule_shared
                                                 : sched.split == ConvSchedule::Split::kShared);
  // kernels::im2col from padded copies of the inputs: a plain copy per row segment. Not for a
  // size-keeping layer (SqueezeNet's 3x3 expands), whose im2col is a shifted copy a row: the
  // copies of the inputs and their pass cost more than they save there.
  src.from_padded = !src.direct && !src.by_op && kernels::windows_inside_padding(s) &&
                    !kernels::conv_keeps_size(s);
  return src;
}

// Fills cols[0] with every image's B (aligned row copies of a 1x1 layer's input, or im2col),
// split over the threads by rows.
void Net::Impl::build_shared_b(const ConvShape& s, const BSource& src,
                               const std::vector<const float*>& ins) {
  const int64_t n = s.out_size(), images = static_cast<int64_t>(ins.size());
  const int64_t rows = src.rows, ld = src.ld;
  cols.resize(std::max<size_t>(cols.size(), 1));
  cols[0].resize(std::max(cols[0].size(), static_cast<size_t>(images * rows * ld)));
  float* all = cols[0].data();
  const auto build = src.from_padded ? kernels::im2col_padded : kernels::im2col;
  pool->parallel_for(images * rows, [&](int64_t begin, int64_t end, int) {
    for (int64_t w = begin; w < end;) {
      const int64_t b = w / rows, stop = std::min(end, (b + 1) * rows);
      float* dst = all + b * rows * ld;
      if (src.direct) {
        for (int64_t r = w - b * rows; r < stop - b * rows; ++r)
          std::memcpy(dst + r * ld, ins[b] + r * n, sizeof(float) * n);
      } else {
        build(s, ins[b], dst, w - b * rows, stop - b * rows, 0, n, ld);
      }
      w = stop;
    }
  });
}

namespace {

// Row blocks per column block: 1, unless the column blocks are too few to share evenly (fewer
// than kBalancedBlocks a thread and not a multiple of the threads: a 13x13 plane's three
// panels on two threads ran 2 to 1). Then each column block's output rows are cut into the
// fewest blocks that make the items a multiple of the threads, and a thread builds the
// kernels::im2col of each column block it has rows of: a block or two built twice, against a
// thread idle for a whole block. The same bits (ConvOp: any split computes the same sums).
constexpr int64_t kBalancedBlocks = 4;
int column_block_row_blocks(const ConvOp& op, int64_t blocks, int threads) {
  if (blocks % threads == 0 || blocks >= kBalancedBlocks * threads) return 1;
  return static_cast<int>(
      std::min<int64_t>(threads / std::gcd(blocks, int64_t{threads}), op.max_row_blocks()));
}

// The order in which the threads take a layer's items when its output rows are cut into
// blocks. ConvOp numbers (group, column panel, row block) items with the row block fastest,
// so that a thread's contiguous share is whole column panels. With fewer than
// kBalancedBlocks panels a thread (a 13x13 plane's three on two threads), such shares are
// uneven (a panel cut in two, the narrow last panel all on one side) and every thread reads
// all of the layer's weights; then the shares are made of row blocks instead: even, and each
// thread reads half of the weights and all of B, which is small there. On 2 threads of the
// Xeon, v1.1's 13x13 expands ran 14-25% faster so and its pass 5% (docs/performance-log.md,
// session 45); planes of more panels (27x27: 12) gained nothing. The same bits in any order
// (ConvOp::work_items).
bool rows_outer(int64_t items, int row_blocks, int threads) {
  return row_blocks > 1 && items / row_blocks < kBalancedBlocks * threads;
}
// The op's item at position x of the `items` (of one image, or of all images' column
// blocks): x itself, or with by_rows (rows_outer) the order taking row blocks outermost.
int64_t item_at(int64_t x, int64_t items, int row_blocks, bool by_rows) {
  if (!by_rows) return x;
  const int64_t panels = items / row_blocks;  // (image, group, column panel) triples
  return x % panels * row_blocks + x / panels;
}

}  // namespace

// Runs the op over whole images whose B is the inputs (in place) or cols[0] (shared): the
// threads split each image's (group, column panel, row block) items.
void Net::Impl::run_whole_images(const ConvShape& s, const ConvOp& op, const BSource& src,
                                 const std::vector<const float*>& ins,
                                 const std::vector<float*>& outs,
                                 const std::vector<const float*>& residuals) {
  const int64_t n = s.out_size(), images = static_cast<int64_t>(ins.size());
  const int rb = row_blocks_for(op, images * op.work_items(n, 1), pool->threads());
  const int64_t items = op.work_items(n, rb), ldb = src.in_place ? n : src.ld;
  const bool by_rows = rows_outer(images * items, rb, pool->threads());
  pool->parallel_for(images * items, [&](int64_t begin, int64_t end, int t) {
    for (int64_t w = begin; w < end;) {
      const int64_t b = w / items, stop = std::min(end, (b + 1) * items);
      const float* in = src.in_place ? ins[b] : cols[0].data() + b * src.rows * src.ld;
      const float* residual = residuals.empty() ? nullptr : residuals[b];
      if (!by_rows) {
        op.run_items_adding(in, ldb, n, outs[b], n, rb, w - b * items, stop - b * items,
                            scratch[t].data(), shared.data(), residual);
      } else {
        for (int64_t x = w - b * items; x < stop - b * items; ++x) {
          const int64_t item = item_at(x, items, rb, true);
          op.run_items_adding(in, ldb, n, outs[b], n, rb, item, item + 1, scratch[t].data(),
                              shared.data(), residual);
        }
      }
      w = stop;
    }
  });
}

// Threads take column blocks of whole images (or, when those are too few to share, row blocks
// of them): kernels::im2col of the block into the thread's own buffer (kept in L2), then the
// kernel over it; one synchronisation per layer.
void Net::Impl::run_column_blocks(const ConvPlan& p, const ConvOp& op, const BSource& src,
                                  const std::vector<const float*>& ins,
                                  const std::vector<float*>& outs,
                                  const std::vector<const float*>& residuals) {
  const ConvShape& s = p.run_shape;
  const int64_t n = s.out_size(), images = static_cast<int64_t>(ins.size());
  const int threads = pool->threads();
  int64_t block = kernels::im2col_block_columns(s, p.schedule.block_floats);
  if (images * ((n + block - 1) / block) < 2 * threads)  // too few blocks to share: narrow them
    block = std::max<int64_t>(64, (n / (2 * threads) + 63) / 64 * 64);
  // An op that builds B panel by panel keeps no block in L2: a block a panel, so that threads
  // share whole panels and cut rows (building a panel once for each row block) only where the
  // panels are too few.
  if (src.by_op) block = op.nr();
  const int64_t blocks = (n + block - 1) / block, bld = kernels::aligned_stride(block);
  const int rb = column_block_row_blocks(op, images * blocks, threads);
  cols.resize(scratch.size());
  if (!src.by_op)
    for (auto& c : cols) c.resize(std::max(c.size(), static_cast<size_t>(src.rows * bld)));
  std::vector<int64_t> built(scratch.size(), -1);  // the block in each thread's buffer
  const auto build = src.from_padded ? kernels::im2col_padded : kernels::im2col;
  // Items are (image, column block, row block), the row block fastest unless rows_outer.
  const int64_t items = images * blocks * rb;
  const bool by_rows = rows_outer(items, rb, threads);
  pool->parallel_for(items, [&](int64_t begin, int64_t end, int t) {
    for (int64_t x = begin; x < end; ++x) {
      const int64_t w = item_at(x, items, rb, by_rows);
      const int64_t cb = w / rb, row_block = w % rb, b = cb / blocks, c0 = (cb % blocks) * block;
      const int64_t ncols = std::min(block, n - c0);
      // The op's items are (group, column panel, row block), the row block fastest.
      const float* residual = residuals.empty() ? nullptr : residuals[b] + c0;
      if (src.by_op) {
        for (int64_t item = row_block; item < op.work_items(ncols, rb); item += rb)
          op.run_items_on_image_adding(ins[b], c0, ncols, outs[b] + c0, n, rb, item, item + 1,
                                       scratch[t].data(), shared.data(), residual);
        continue;
      }
      if (built[t] != cb) build(s, ins[b], cols[t].data(), 0, src.rows, c0, ncols, bld);
      built[t] = cb;
      for (int64_t item = row_block; item < op.work_items(ncols, rb); item += rb)
        op.run_items_adding(cols[t].data(), bld, ncols, outs[b] + c0, n, rb, item, item + 1,
                            scratch[t].data(), shared.data(), residual);
    }
  });
}

void Net::Impl::arrange_direct(const ConvShape& s, const ConvOp& op,
                               const std::vector<const float*>& ins) {
  const int64_t images = static_cast<int64_t>(ins.size()), per_image = op.arranged_floats();
  padded.resize(std::max(padded.size(), static_cast<size_t>(images * per_image)));
  pool->parallel_for(images * s.in_c, [&](int64_t begin, int64_t end, int) {
    for (int64_t w = begin; w < end;) {
      const int64_t b = w / s.in_c, stop = std::min(end, (b + 1) * s.in_c);
      op.arrange_input(ins[b], padded.data() + b * per_image, w - b * s.in_c, stop - b * s.in_c);
      w = stop;
    }
  });
}

// A direct op: each image's input arranged, then the threads split images x the op's items.
void Net::Impl::run_direct(const ConvShape& s, const ConvOp& op,
                           const std::vector<const float*>& ins, const std::vector<float*>& outs) {
  arrange_direct(s, op, ins);
  const int64_t images = static_cast<int64_t>(ins.size()), per_image = op.arranged_floats();
  const int64_t items = op.direct_items();
  pool->parallel_for(images * items, [&](int64_t begin, int64_t end, int) {
    for (int64_t w = begin; w < end;) {
      const int64_t b = w / items, stop = std::min(end, (b + 1) * items);
      op.run_direct(padded.data() + b * per_image, outs[b], w - b * items, stop - b * items,
                    shared.data());
      w = stop;
    }
  });
}

void Net::Impl::execute_conv(const ConvPlan& p, const ConvOp& op,
                             const std::vector<const float*>& ins,
                             const std::vector<float*>& outs,
                             const std::vector<const float*>& residuals) {
  const ConvShape& s = p.run_shape;
  prepare_shared(op);
  if (p.then_pool)
    return op.arranged_floats() > 0 ? run_direct_pooled(s, op, *p.then_pool, ins, outs)
                                    : run_im2col_pooled(s, op, *p.then_pool, ins, outs);
  if (op.arranged_floats() > 0) return run_direct(s, op, ins, outs);
  const BSource src = b_source(p, op, static_cast<int64_t>(ins.size()));
  const std::vector<const float*> b_ins = src.from_padded ? pad_inputs(s, ins) : ins;
  if (src.shared) build_shared_b(s, src, b_ins);
  if (src.in_place || src.shared) return run_whole_images(s, op, src, b_ins, outs, residuals);
  run_column_blocks(p, op, src, b_ins, outs, residuals);
}

void Net::Impl::run_conv(size_t i) {
  const Layer& l = model.layers[i];
  const ConvPlan& p = convs[i];
  std::vector<const float*> ins(static_cast<size_t>(batch)), residuals;
  std::vector<float*> outs(static_cast<size_t>(batch));
  const ConvShape& s = p.run_shape;
  const int64_t run_out = s.out_c * s.out_size();
  if (p.pad_only) pad_tmp.resize(std::max(pad_tmp.size(), static_cast<size_t>(batch * run_out)));
  for (int64_t b = 0; b < batch; ++b) {
    ins[b] = blob_ptr(l.inputs[0], b);
    outs[b] = p.pad_only     ? pad_tmp.data() + b * run_out
              : p.then_pool  ? blob_ptr(model.layers[p.pool_layer].output, b)
                             : blob_ptr(l.output, b);
    if (conv_input_hook) conv_input_hook(l.name, ins[b]);
    if (!p.residual.empty()) residuals.push_back(blob_ptr(p.residual, b) + p.residual_shift);
  }
  if (!p.op) {  // reference path
    for (int64_t b = 0; b < batch; ++b)
      kernels::ref::conv2d_f32(p.shape, ins[b], l.weight.data.data(),
                      l.conv.has_bias ? l.bias.data.data() : nullptr, p.relu, outs[b]);
    return;
  }
  execute_conv(p, *p.op, ins, outs, residuals);
  if (!p.pad_only) return;
  // The interior into the padded output, the border set to its value: channels split over the
  // threads, each output element written once.
  const ConvShape& full = p.shape;
  std::vector<float*> dst(static_cast<size_t>(batch));
  for (int64_t b = 0; b < batch; ++b) dst[b] = blob_ptr(l.output, b);
  pool->parallel_for(batch * full.out_c, [&](int64_t begin, int64_t end, int) {
    for (int64_t w = begin; w < end; ++w) {
      const int64_t b = w / full.out_c, c = w % full.out_c;
      float* plane = dst[b] + c * full.out_size();
      const float v = p.border[c];
      std::fill(plane, plane + full.ph * full.out_w, v);
      for (int64_t y = 0; y < s.out_h; ++y) {
        float* row = plane + (y + full.ph) * full.out_w;
        std::fill(row, row + full.pw, v);
        std::memcpy(row + full.pw, outs[b] + (c * s.out_h + y) * s.out_w, sizeof(float) * s.out_w);
        std::fill(row + full.pw + s.out_w, row + full.out_w, v);
      }
      std::fill(plane + (full.ph + s.out_h) * full.out_w, plane + full.out_size(), v);
    }
  });
}

}  // namespace sqz::runtime
