#include "sqz/runtime/net.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <map>

#include "../kernels/aligned.h"
#include "../kernels/conv_op.h"
#include "../kernels/im2col.h"
#include "../kernels/pool.h"
#include "../kernels/ref/conv_ref.h"
#include "../kernels/softmax.h"
#include "sqz/runtime/thread_pool.h"

namespace sqz::rt {

namespace {
std::atomic<int64_t> g_activation_budget{int64_t{256} << 20};
}  // namespace

int64_t default_activation_budget() { return g_activation_budget.load(); }
void set_default_activation_budget(int64_t bytes) { g_activation_budget.store(bytes); }

namespace {

// Where a blob lives: inside its parent's storage at a channel offset (views, concat slices).
struct Placement {
  std::string parent;  // empty: the blob owns its storage
  int64_t channel_offset = 0;
};

int64_t per_image(const Shape& s) { return shape_numel(s) / s[0]; }
int64_t spatial(const Shape& s) { return s.size() == 4 ? s[2] * s[3] : 1; }

ConvShape conv_shape(const Layer& l, const Shape& in, const Shape& out) {
  return {in[1],        in[2],           in[3],           out[1],          out[2],
          out[3],       l.conv.kernel_h, l.conv.kernel_w, l.conv.stride_h, l.conv.stride_w,
          l.conv.pad_h, l.conv.pad_w,    l.conv.groups};
}

// A 1x1 stride-1 convolution with padding (SqueezeNet's conv_final) computes its interior
// without padding; the border only ever holds the bias.
bool pad_only_1x1(const ConvShape& s) {
  return s.kh == 1 && s.kw == 1 && s.sh == 1 && s.sw == 1 && (s.ph > 0 || s.pw > 0);
}

// Columns per im2col block: its rows stay in L2 (~256 KB) while the kernel sweeps them.
int64_t block_columns(const ConvShape& s) {
  const int64_t rows = s.groups * s.k_per_group();
  const int64_t cols =
      std::max<int64_t>(64, (int64_t{1} << 16) / std::max<int64_t>(rows, 1) / 64 * 64);
  return std::min(cols, s.out_size());
}

}  // namespace

struct ConvPlan {
  ConvShape shape;      // the layer's own geometry
  ConvShape run_shape;  // what the op computes (pad-only 1x1: without the padding)
  bool pad_only = false;
  bool relu = false;
  std::vector<float> border;   // pad-only: per output channel, the border value
  std::unique_ptr<ConvOp> op;  // null: reference kernels
};

struct Net::Impl {
  Model model;
  NetOptions options;
  std::map<std::string, Shape> shapes;  // batch 1
  std::map<std::string, Placement> placement;
  std::vector<bool> skip;
  std::vector<bool> fused_relu;
  std::map<std::string, std::vector<bool>> concat_needs_copy;
  std::vector<ConvPlan> convs;  // per layer
  std::vector<LayerProfile> profiles;
  bool profiling = false;
  Net::ConvInputHook conv_input_hook;
  std::unique_ptr<ThreadPool> pool;
  std::vector<AlignedFloats> scratch;  // per thread
  std::vector<AlignedFloats> cols;     // per thread: one im2col block
  AlignedFloats shared, pad_tmp;
  AlignedFloats arena;                          // every blob that owns storage, reused
  std::map<std::string, int64_t> arena_offset;  // such a blob -> its first float in the arena
  int64_t batch = 0;

  Status plan();
  void plan_aliases(const std::map<std::string, int>& consumers,
                    const std::map<std::string, size_t>& producer);
  void plan_conv(size_t i);
  Status plan_memory(int64_t batch_size);
  void resolve(const std::string& blob, std::string* root, int64_t* offset) const;
  void resolve_placements();
  std::map<std::string, std::pair<std::string, int64_t>> resolved;  // view -> (root, floats)
  float* blob_ptr(const std::string& blob, int64_t image);
  void run_layer(size_t i);
  void run_conv(size_t i);
  void prepare_shared(const ConvOp& op);
  void execute_conv(const ConvPlan& p, const ConvOp& op, const std::vector<const float*>& ins,
                    const std::vector<float*>& outs);
  void size_scratch(const ConvOp& op);
  void run_pool(const Layer& l);
  void run_concat(const Layer& l);
  void run_relu(const Layer& l);
  void run_softmax(const Layer& l);
  void run_add(const Layer& l);
};

void Net::Impl::resolve(const std::string& blob, std::string* root, int64_t* offset) const {
  auto it = resolved.find(blob);
  if (it == resolved.end()) {  // owns its storage
    *root = blob;
    *offset = 0;
    return;
  }
  *root = it->second.first;
  *offset = it->second.second;
}

// Every view's root blob and float offset, each chain walked once (a graph may chain
// thousands of views: no recursion, no repeated walks).
void Net::Impl::resolve_placements() {
  resolved.clear();
  for (const auto& [start, unused] : placement) {
    std::vector<std::string> path;
    std::string b = start;
    while (!resolved.count(b)) {
      auto it = placement.find(b);
      if (it == placement.end() || it->second.parent.empty()) break;
      path.push_back(b);
      b = it->second.parent;
    }
    std::pair<std::string, int64_t> at =
        resolved.count(b) ? resolved.at(b) : std::pair<std::string, int64_t>{b, 0};
    for (auto p = path.rbegin(); p != path.rend(); ++p) {
      const Placement& link = placement.at(*p);
      at.second += link.channel_offset * spatial(shapes.at(*p));
      resolved[*p] = at;
    }
  }
}

float* Net::Impl::blob_ptr(const std::string& blob, int64_t image) {
  std::string root;
  int64_t offset;
  resolve(blob, &root, &offset);
  return arena.data() + arena_offset.at(root) + image * per_image(shapes.at(root)) + offset;
}

namespace {

struct Lifetime {
  int64_t first, last, floats;  // layers that write / read it last (inclusive); its size
};

// Offsets in one arena for buffers live over [first, last], in order of `first`: each takes
// the lowest 64-byte aligned gap among the buffers still live (first fit); buffers whose
// lifetimes overlap never overlap in memory. Returns the offsets and sets *total.
std::vector<int64_t> first_fit(const std::vector<Lifetime>& lives, int64_t* total) {
  auto padded = [](int64_t floats) { return (floats + 15) / 16 * 16; };
  std::vector<size_t> order(lives.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return lives[a].first < lives[b].first; });
  std::vector<int64_t> offset(lives.size(), 0);
  std::vector<size_t> live;  // indices, by offset
  *total = 0;
  for (size_t i : order) {
    live.erase(std::remove_if(live.begin(), live.end(),
                              [&](size_t j) { return lives[j].last < lives[i].first; }),
               live.end());
    int64_t at = 0;
    for (size_t j : live) {
      if (offset[j] - at >= padded(lives[i].floats)) break;
      at = std::max(at, offset[j] + padded(lives[j].floats));
    }
    offset[i] = at;
    *total = std::max(*total, at + padded(lives[i].floats));
    live.insert(std::upper_bound(live.begin(), live.end(), at,
                                 [&](int64_t x, size_t j) { return x < offset[j]; }),
                i);
  }
  return offset;
}

}  // namespace

// Blobs that own storage share one arena, a blob's floats reused once its last reader has run:
// consecutive layers then work in the same few megabytes, which stay in cache, instead of
// touching fresh memory at every layer.
Status Net::Impl::plan_memory(int64_t batch_size) {
  const int64_t n = static_cast<int64_t>(model.layers.size());
  std::map<std::string, Lifetime> life;
  auto touch = [&](const std::string& blob, int64_t at) {
    std::string root;
    int64_t offset;
    resolve(blob, &root, &offset);
    auto it =
        life.try_emplace(root, Lifetime{at, at, batch_size * per_image(shapes.at(root))}).first;
    it->second.first = std::min(it->second.first, at);
    it->second.last = std::max(it->second.last, at);
  };
  touch(model.input, -1);
  for (int64_t i = 0; i < n; ++i) {
    for (const std::string& in : model.layers[static_cast<size_t>(i)].inputs) touch(in, i);
    touch(model.layers[static_cast<size_t>(i)].output, i);
  }
  touch(model.output, n);  // read by forward() after the last layer
  std::vector<Lifetime> lives;
  for (const auto& [name, l] : life) lives.push_back(l);
  int64_t total = 0;
  const std::vector<int64_t> offsets = first_fit(lives, &total);
  SQZ_RETURN_ERROR_IF(total > options.max_activation_bytes / 4, ErrorCode::kLimit,
                      "the network's activations at batch " + std::to_string(batch_size) +
                          " need " + std::to_string(total / (1 << 18)) +
                          " MiB, more than the limit of " +
                          std::to_string(options.max_activation_bytes >> 20) +
                          " MiB (--max-memory raises it)");
  arena_offset.clear();
  size_t k = 0;
  for (const auto& entry : life) arena_offset[entry.first] = offsets[k++];
  arena.assign(static_cast<size_t>(total), 0.0f);
  return Status::ok();
}

void Net::Impl::plan_aliases(const std::map<std::string, int>& consumers,
                             const std::map<std::string, size_t>& producer) {
  const size_t n = model.layers.size();
  // ReLU fused into its convolution; Dropout and Flatten as views.
  for (size_t i = 0; i < n; ++i) {
    const Layer& l = model.layers[i];
    if (l.op == OpKind::kDropout || l.op == OpKind::kFlatten) {
      skip[i] = true;
      placement[l.output] = {l.inputs[0], 0};
    } else if (l.op == OpKind::kRelu && producer.count(l.inputs[0]) &&
               model.layers[producer.at(l.inputs[0])].op == OpKind::kConvolution &&
               consumers.at(l.inputs[0]) == 1) {
      skip[i] = true;
      fused_relu[producer.at(l.inputs[0])] = true;
      placement[l.output] = {l.inputs[0], 0};
    }
  }
  // Concat along channels without copies: a producer whose output (through single-consumer
  // views) feeds only this concat writes straight into its slice.
  for (size_t i = 0; i < n; ++i) {
    const Layer& l = model.layers[i];
    if (l.op != OpKind::kConcat) continue;
    std::vector<bool>& copy = concat_needs_copy[l.output];
    int64_t offset = 0;
    for (const std::string& in : l.inputs) {
      std::string r = in;
      bool ok = l.axis == 1 && consumers.at(r) == 1;
      while (ok && placement.count(r) && !placement[r].parent.empty()) {
        r = placement[r].parent;
        ok = consumers.at(r) == 1;
      }
      ok = ok && r != model.input && producer.count(r) && !placement.count(r);
      if (ok) placement[r] = {l.output, offset};
      copy.push_back(!ok);
      offset += shapes.at(in)[1];
    }
    skip[i] = std::none_of(copy.begin(), copy.end(), [](bool b) { return b; });
  }
}

void Net::Impl::size_scratch(const ConvOp& op) {
  for (auto& s : scratch) s.resize(std::max(s.size(), static_cast<size_t>(op.scratch_floats())));
  shared.resize(std::max(shared.size(), static_cast<size_t>(op.shared_floats())));
}

void Net::Impl::plan_conv(size_t i) {
  const Layer& l = model.layers[i];
  ConvPlan& p = convs[i];
  p.shape = conv_shape(l, shapes.at(l.inputs[0]), shapes.at(l.output));
  p.relu = fused_relu[i];
  const int64_t numel = l.weight.numel(),
                stored = l.mask.empty() ? l.weight.count_nonzero() : l.stored_count();
  LayerProfile& prof = profiles[i];
  prof.density = numel ? static_cast<double>(stored) / numel : 1;
  prof.flops = 2.0 * numel * p.shape.out_size();
  prof.nnz_flops = 2.0 * stored * p.shape.out_size();
  if (options.policy == KernelPolicy::kReference) {
    prof.kernel = "conv2d_f32_ref";
    return;
  }
  p.pad_only = pad_only_1x1(p.shape);
  p.run_shape = p.shape;
  if (p.pad_only) {
    p.run_shape.ph = p.run_shape.pw = 0;
    p.run_shape.out_h = p.shape.in_h;
    p.run_shape.out_w = p.shape.in_w;
    p.border.assign(static_cast<size_t>(p.shape.out_c), 0.0f);
    if (l.conv.has_bias)
      for (int64_t c = 0; c < p.shape.out_c; ++c)
        p.border[c] = p.relu ? std::max(0.0f, l.bias.data[c]) : l.bias.data[c];
  }
  ConvWeights w;
  w.weight = l.weight.data.data();
  w.mask = l.mask.empty() ? nullptr : l.mask.data();
  w.bias = l.conv.has_bias ? l.bias.data.data() : nullptr;
  const bool quantized = l.quant.active();
  if (quantized) {
    w.codes = l.quant.codes.data();
    w.codebook = l.quant.codebook.data();
    w.codebook_size = static_cast<int>(l.quant.codebook.size());
  }
  const bool fits_sparse = p.run_shape.k_per_group() <= 65536;
  std::unique_ptr<ConvOp> sparse, dense;
  if (fits_sparse && options.policy != KernelPolicy::kDense &&
      (options.policy == KernelPolicy::kSparse || prof.density <= options.sparse_max_density))
    sparse = make_sparse_conv(p.run_shape, w, p.relu, best_spmm_kernel());
  if (!sparse) {
    // Dense from codes needs a free code for the zeros: not when the codebook is full.
    if (quantized && w.mask && w.codebook_size >= 256) w.codes = nullptr;
    dense = make_dense_conv(p.run_shape, w, p.relu, best_gemm_kernel());
  }
  p.op = sparse ? std::move(sparse) : std::move(dense);
  size_scratch(*p.op);
  prof.kernel = p.op->kernel_name() + (p.pad_only ? " +border" : "");
}

Status Net::Impl::plan() {
  SQZ_ASSIGN_OR_RETURN(shapes, validate_and_infer(model, 1));
  const size_t n = model.layers.size();
  for (const Layer& l : model.layers)
    SQZ_RETURN_ERROR_IF(l.op == OpKind::kSoftmax &&
                            (l.axis == 0 || l.axis == -static_cast<int64_t>(shapes.at(l.output).size())),
                        ErrorCode::kUnsupported,
                        "layer '" + l.name + "': softmax over the batch axis is not supported");
  std::map<std::string, int> consumers;
  std::map<std::string, size_t> producer;
  consumers[model.output]++;
  for (size_t i = 0; i < n; ++i) {
    for (const std::string& in : model.layers[i].inputs) consumers[in]++;
    producer[model.layers[i].output] = i;
  }
  skip.assign(n, false);
  fused_relu.assign(n, false);
  pool = std::make_unique<ThreadPool>(std::max(1, options.threads));
  scratch.resize(static_cast<size_t>(pool->threads()));
  convs.resize(n);
  profiles.resize(n);
  plan_aliases(consumers, producer);
  resolve_placements();
  // The activations' budget is checked (and batch 1 planned) before anything else allocates:
  // the kernels' timed trials below run on inputs of the layers' full size.
  SQZ_RETURN_IF_ERROR(plan_memory(1));
  batch = 1;
  for (size_t i = 0; i < n; ++i) {
    const Layer& l = model.layers[i];
    profiles[i].name = l.name;
    profiles[i].kernel = skip[i] ? "alias" : op_name(l.op);
    if (l.op == OpKind::kConvolution) plan_conv(i);
  }
  // The ops own their packed weights now: drop the dense copies (the reference path reads them).
  if (options.policy != KernelPolicy::kReference)
    for (Layer& l : model.layers) {
      l.weight.data = {};
      l.mask = {};
      l.quant.codes = {};
    }
  return Status::ok();
}

namespace {

// Row blocks for a layer with `items` (image, group, column panel) items: enough that every
// thread gets several items (the pool splits items into equal contiguous ranges), within what
// the op finds worth splitting. 1 on one thread.
int row_blocks_for(const ConvOp& op, int64_t items, int threads) {
  if (threads <= 1) return 1;
  const int64_t want = (8 * int64_t{threads} + items - 1) / items;
  return static_cast<int>(std::clamp<int64_t>(want, 1, op.max_row_blocks()));
}

// A layer whose whole im2col (all images) is at most this many floats builds it once, shared
// by all threads, which then split output channels as well as columns: the late layers have
// too few columns to give every thread a block of its own.
constexpr int64_t kSharedIm2colFloats = int64_t{1} << 20;

}  // namespace

// Expands the codes of a codebook layer into shared floats, split over the threads when large.
void Net::Impl::prepare_shared(const ConvOp& op) {
  const int64_t n = op.shared_floats();
  if (n == 0) return;
  if (n < (int64_t{1} << 14)) return op.prepare(shared.data(), 0, n);
  pool->parallel_for(pool->threads(), [&](int64_t begin, int64_t end, int) {
    op.prepare(shared.data(), n * begin / pool->threads(), n * end / pool->threads());
  });
}

void Net::Impl::execute_conv(const ConvPlan& p, const ConvOp& op,
                             const std::vector<const float*>& ins,
                             const std::vector<float*>& outs) {
  const ConvShape& s = p.run_shape;
  const int64_t n = s.out_size(), images = static_cast<int64_t>(ins.size());
  const int threads = pool->threads();
  prepare_shared(op);
  const bool direct = conv_reads_input_directly(s);
  const int64_t rows = s.groups * s.k_per_group(), ld = aligned_stride(n);
  // The kernels want B rows starting on cache lines (a split vector load costs two): a 1x1
  // layer reads its input in place when its rows are so, else a copy with aligned rows; a
  // small im2col is built once, shared by all threads.
  const bool in_place = direct && ld == n;
  const bool shared_b = !in_place && (direct || images * rows * ld <= kSharedIm2colFloats);
  if (shared_b) {
    cols.resize(std::max<size_t>(cols.size(), 1));
    cols[0].resize(std::max(cols[0].size(), static_cast<size_t>(images * rows * ld)));
    float* all = cols[0].data();
    pool->parallel_for(images * rows, [&](int64_t begin, int64_t end, int) {
      for (int64_t w = begin; w < end;) {
        const int64_t b = w / rows, stop = std::min(end, (b + 1) * rows);
        float* dst = all + b * rows * ld;
        if (direct) {
          for (int64_t r = w - b * rows; r < stop - b * rows; ++r)
            std::memcpy(dst + r * ld, ins[b] + r * n, sizeof(float) * n);
        } else {
          im2col(s, ins[b], dst, w - b * rows, stop - b * rows, 0, n, ld);
        }
        w = stop;
      }
    });
  }
  if (in_place || shared_b) {
    const int rb = row_blocks_for(op, images * op.work_items(n, 1), threads);
    const int64_t items = op.work_items(n, rb), ldb = in_place ? n : ld;
    pool->parallel_for(images * items, [&](int64_t begin, int64_t end, int t) {
      for (int64_t w = begin; w < end;) {
        const int64_t b = w / items, stop = std::min(end, (b + 1) * items);
        const float* in = in_place ? ins[b] : cols[0].data() + b * rows * ld;
        op.run_items(in, ldb, n, outs[b], n, rb, w - b * items, stop - b * items,
                     scratch[t].data(), shared.data());
        w = stop;
      }
    });
    return;
  }
  // Each thread takes whole column blocks of whole images: im2col into its own buffer (kept
  // in L2), then the kernel over that block; one synchronisation per layer.
  int64_t block = block_columns(s);
  if (images * ((n + block - 1) / block) < 2 * threads)  // too few blocks to share: narrow them
    block = std::max<int64_t>(64, (n / (2 * threads) + 63) / 64 * 64);
  const int64_t blocks = (n + block - 1) / block, bld = aligned_stride(block);
  cols.resize(scratch.size());
  for (auto& c : cols) c.resize(std::max(c.size(), static_cast<size_t>(rows * bld)));
  pool->parallel_for(images * blocks, [&](int64_t begin, int64_t end, int t) {
    for (int64_t w = begin; w < end; ++w) {
      const int64_t b = w / blocks, c0 = (w % blocks) * block, ncols = std::min(block, n - c0);
      im2col(s, ins[b], cols[t].data(), 0, rows, c0, ncols, bld);
      op.run_items(cols[t].data(), bld, ncols, outs[b] + c0, n, 1, 0, op.work_items(ncols, 1),
                   scratch[t].data(), shared.data());
    }
  });
}

void Net::Impl::run_conv(size_t i) {
  const Layer& l = model.layers[i];
  const ConvPlan& p = convs[i];
  std::vector<const float*> ins(static_cast<size_t>(batch));
  std::vector<float*> outs(static_cast<size_t>(batch));
  const ConvShape& s = p.run_shape;
  const int64_t run_out = s.out_c * s.out_size();
  if (p.pad_only) pad_tmp.resize(std::max(pad_tmp.size(), static_cast<size_t>(batch * run_out)));
  for (int64_t b = 0; b < batch; ++b) {
    ins[b] = blob_ptr(l.inputs[0], b);
    outs[b] = p.pad_only ? pad_tmp.data() + b * run_out : blob_ptr(l.output, b);
    if (conv_input_hook) conv_input_hook(l.name, ins[b]);
  }
  if (!p.op) {  // reference path
    for (int64_t b = 0; b < batch; ++b)
      ref::conv2d_f32(p.shape, ins[b], l.weight.data.data(),
                      l.conv.has_bias ? l.bias.data.data() : nullptr, p.relu, outs[b]);
    return;
  }
  execute_conv(p, *p.op, ins, outs);
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

void Net::Impl::run_pool(const Layer& l) {
  const Shape& in = shapes.at(l.inputs[0]);
  const Shape& out = shapes.at(l.output);
  for (int64_t b = 0; b < batch; ++b) {
    const float* src = blob_ptr(l.inputs[0], b);
    float* dst = blob_ptr(l.output, b);
    if (l.pool.global) {
      (l.op == OpKind::kMaxPool ? global_maxpool_f32 : global_avgpool_f32)(in[1], in[2] * in[3],
                                                                           src, dst);
      continue;
    }
    const PoolShape s{in[1],           in[2],           in[3],
                      out[2],          out[3],          l.pool.kernel_h,
                      l.pool.kernel_w, l.pool.stride_h, l.pool.stride_w,
                      l.pool.pad_h,    l.pool.pad_w,    l.pool.average_counts_padding,
                      l.pool.extra_pad_h, l.pool.extra_pad_w};
    if (l.op == OpKind::kAvgPool) {
      avgpool2d_f32(s, src, dst);
      continue;
    }
    // Channels are independent: split them over the threads.
    const int64_t plane_in = s.in_h * s.in_w, plane_out = s.out_h * s.out_w;
    pool->parallel_for(s.c, [&](int64_t begin, int64_t end, int) {
      PoolShape part = s;
      part.c = end - begin;
      maxpool2d_f32(part, src + begin * plane_in, dst + begin * plane_out);
    });
  }
}

void Net::Impl::run_concat(const Layer& l) {
  const Shape& out = shapes.at(l.output);
  const std::vector<bool>& copy = concat_needs_copy.at(l.output);
  int64_t inner = 1;
  for (size_t d = static_cast<size_t>(l.axis) + 1; d < out.size(); ++d) inner *= out[d];
  const int64_t outer = per_image(out) / (out[static_cast<size_t>(l.axis)] * inner);
  for (int64_t b = 0; b < batch; ++b) {
    float* dst = blob_ptr(l.output, b);
    int64_t offset = 0;
    for (size_t k = 0; k < l.inputs.size(); ++k) {
      const int64_t len = shapes.at(l.inputs[k])[static_cast<size_t>(l.axis)] * inner;
      if (copy[k]) {
        const float* src = blob_ptr(l.inputs[k], b);
        for (int64_t o = 0; o < outer; ++o)
          std::memcpy(dst + o * per_image(out) / outer + offset, src + o * len,
                      sizeof(float) * len);
      }
      offset += len;
    }
  }
}

void Net::Impl::run_relu(const Layer& l) {
  const Shape& s = shapes.at(l.output);
  const int64_t n = per_image(s);
  for (int64_t b = 0; b < batch; ++b) {
    const float* src = blob_ptr(l.inputs[0], b);
    float* dst = blob_ptr(l.output, b);
    for (int64_t k = 0; k < n; ++k) dst[k] = src[k] > 0 ? src[k] : 0.0f;
  }
}

// Softmax along one axis (ONNX opset 13 semantics; axis 0, the batch, is refused at planning):
// per image, `outer` groups of `c` values `inner` apart.
void Net::Impl::run_softmax(const Layer& l) {
  const Shape& s = shapes.at(l.output);
  const auto rank = static_cast<int64_t>(s.size());
  const int64_t axis = l.axis < 0 ? l.axis + rank : l.axis;
  int64_t inner = 1;
  for (int64_t d = axis + 1; d < rank; ++d) inner *= s[static_cast<size_t>(d)];
  const int64_t c = s[static_cast<size_t>(axis)], outer = per_image(s) / (c * inner);
  for (int64_t b = 0; b < batch; ++b)
    softmax_f32(blob_ptr(l.inputs[0], b), outer, c, inner, blob_ptr(l.output, b));
}

// Element-wise sum of the inputs (the bypass of SqueezeNet Sec. 6), in input order.
void Net::Impl::run_add(const Layer& l) {
  const int64_t n = per_image(shapes.at(l.output));
  for (int64_t b = 0; b < batch; ++b) {
    float* dst = blob_ptr(l.output, b);
    const float* a = blob_ptr(l.inputs[0], b);
    const float* c = blob_ptr(l.inputs[1], b);
    for (int64_t k = 0; k < n; ++k) dst[k] = a[k] + c[k];
    for (size_t i = 2; i < l.inputs.size(); ++i) {
      const float* more = blob_ptr(l.inputs[i], b);
      for (int64_t k = 0; k < n; ++k) dst[k] += more[k];
    }
  }
}

void Net::Impl::run_layer(size_t i) {
  const Layer& l = model.layers[i];
  switch (l.op) {
    case OpKind::kConvolution:
      run_conv(i);
      break;
    case OpKind::kMaxPool:
    case OpKind::kAvgPool:
      run_pool(l);
      break;
    case OpKind::kConcat:
      run_concat(l);
      break;
    case OpKind::kRelu:
      run_relu(l);
      break;
    case OpKind::kSoftmax:
      run_softmax(l);
      break;
    case OpKind::kAdd:
      run_add(l);
      break;
    case OpKind::kDropout:
    case OpKind::kFlatten:
      break;
  }
}

Net::Net(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Net::~Net() = default;

Result<std::unique_ptr<Net>> Net::create(const Model& model, const NetOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->model = model;
  impl->options = options;
  SQZ_RETURN_IF_ERROR(impl->plan());
  return std::unique_ptr<Net>(new Net(std::move(impl)));
}

Shape Net::input_chw() const {
  const Shape& s = impl_->model.input_shape;
  return Shape(s.begin() + 1, s.end());
}

int64_t Net::output_size() const { return per_image(impl_->shapes.at(impl_->model.output)); }

int64_t Net::weight_bytes() const {
  int64_t bytes = 0;
  for (const ConvPlan& p : impl_->convs)
    if (p.op) bytes += p.op->resident_bytes() + static_cast<int64_t>(p.border.size() * 4);
  return bytes;
}

Status Net::forward(const float* input, int64_t batch, std::vector<float>* output) {
  Impl& m = *impl_;
  SQZ_RETURN_ERROR_IF(batch < 1, ErrorCode::kInvalidArgument, "batch must be at least 1");
  if (batch != m.batch) {
    SQZ_RETURN_IF_ERROR(m.plan_memory(batch));
    m.batch = batch;
  }
  std::memcpy(m.blob_ptr(m.model.input, 0), input,
              sizeof(float) * batch * per_image(m.shapes.at(m.model.input)));
  for (size_t i = 0; i < m.model.layers.size(); ++i) {
    if (m.skip[i]) continue;
    const auto t0 = std::chrono::steady_clock::now();
    m.run_layer(i);
    if (m.profiling)
      m.profiles[i].seconds +=
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  const int64_t n = output_size();
  output->resize(static_cast<size_t>(batch * n));
  for (int64_t b = 0; b < batch; ++b)
    std::memcpy(output->data() + b * n, m.blob_ptr(m.model.output, b), sizeof(float) * n);
  return Status::ok();
}

void Net::set_conv_input_hook(ConvInputHook hook) { impl_->conv_input_hook = std::move(hook); }
void Net::set_profiling(bool on) { impl_->profiling = on; }
std::vector<LayerProfile> Net::profile() const { return impl_->profiles; }

}  // namespace sqz::rt
