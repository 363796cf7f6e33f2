#include "sqz/runtime/net.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <map>

#include "net_impl.h"
#include "sqz/runtime/arena_plan.h"

namespace sqz::runtime {

namespace {
std::atomic<int64_t> g_activation_budget{int64_t{256} << 20};
}  // namespace

int64_t default_activation_budget() { return g_activation_budget.load(); }
void set_default_activation_budget(int64_t bytes) { g_activation_budget.store(bytes); }

namespace {

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

}  // namespace

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

int64_t images_in_l2(int64_t arena_bytes, int threads, const kernels::Machine& m) {
  const int64_t l2 = kernels::l2_per_thread(m) * std::max(1, threads);
  return std::max<int64_t>(1, l2 / std::max<int64_t>(1, arena_bytes));
}

// Blobs that own storage share one arena, a blob's floats reused once its last reader has run:
// consecutive layers then work in the same few megabytes, which stay in cache, instead of
// touching fresh memory at every layer.
Status Net::Impl::plan_memory(int64_t batch_size, bool check_only) {
  const int64_t n = static_cast<int64_t>(model.layers.size());
  std::map<std::string, BufferLife> life;
  auto touch = [&](const std::string& blob, int64_t at) {
    std::string root;
    int64_t offset;
    resolve(blob, &root, &offset);
    if (elided.count(root)) return;
    auto it =
        life.try_emplace(root, BufferLife{at, at, batch_size * per_image(shapes.at(root))}).first;
    it->second.first = std::min(it->second.first, at);
    it->second.last = std::max(it->second.last, at);
  };
  touch(model.input, -1);
  for (int64_t i = 0; i < n; ++i) {
    for (const std::string& in : model.layers[static_cast<size_t>(i)].inputs) touch(in, i);
    touch(model.layers[static_cast<size_t>(i)].output, i);
    const ConvPlan& p = convs[static_cast<size_t>(i)];  // one a layer (plan() sizes them)
    if (p.then_pool) touch(model.layers[p.pool_layer].output, i);  // written here
    if (!p.residual.empty()) touch(p.residual, i);                 // read here
  }
  touch(model.output, n);  // read by forward() after the last layer
  std::vector<BufferLife> lives;
  for (const auto& [name, l] : life) lives.push_back(l);
  int64_t total = 0;
  const std::vector<int64_t> offsets = plan_arena(lives, &total);
  SQZ_RETURN_ERROR_IF(
      total > options.max_activation_bytes / 4, ErrorCode::kLimit,
      "the network's activations at batch " + std::to_string(batch_size) + " need " +
          (check_only && !elided.empty() ? "at least " : "") +
          std::to_string((total + (1 << 18) - 1) / (1 << 18)) + " MiB, more than the limit of " +
          std::to_string(options.max_activation_bytes >> 20) + " MiB (`max_memory` raises it)");
  if (check_only) return Status::ok();
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

std::unique_ptr<ConvOp> Net::Impl::make_conv_op(size_t i, const KernelChoice& choice) const {
  const Layer& l = model.layers[i];
  const ConvPlan& p = convs[i];
  ConvWeights w;
  w.weight = l.weight.data.data();
  w.mask = l.mask.empty() ? nullptr : l.mask.data();
  w.bias = l.conv.has_bias ? l.bias.data.data() : nullptr;
  if (l.quant.active()) {
    w.codes = l.quant.codes.data();
    w.codebook = l.quant.codebook.data();
    w.codebook_size = static_cast<int>(l.quant.codebook.size());
  }
  if (choice.sparse) {
    if (p.run_shape.k_per_group() > 65536) return nullptr;
    const kernels::SpmmKernel* k = spmm_kernel_of(choice);
    return k ? kernels::make_sparse_conv(p.run_shape, w, p.relu, *k, choice.chunk_bytes,
                                         !choice.one_row)
             : nullptr;
  }
  const kernels::GemmKernel* k = gemm_kernel_of(choice);
  if (!k) return nullptr;
  // Dense from codes needs a free code for the zeros: not when the codebook is full.
  if (w.codes && w.mask && w.codebook_size >= 256) w.codes = nullptr;
  if (choice.direct) return kernels::make_direct_conv(p.run_shape, w, p.relu, *k);
  return kernels::make_dense_conv(p.run_shape, w, p.relu, *k, choice.k_block);
}

std::unique_ptr<ConvOp> Net::Impl::make_rule_op(size_t i) const {
  const bool sparse =
      options.policy == KernelPolicy::kSparse ||
      (options.policy == KernelPolicy::kAuto && profiles[i].density <= options.sparse_max_density);
  std::unique_ptr<ConvOp> op = sparse ? make_conv_op(i, true) : nullptr;
  if (!op && direct_by_rule(convs[i].run_shape)) {
    KernelChoice direct;
    direct.direct = true;
    op = make_conv_op(i, direct);
  }
  return op ? std::move(op) : make_conv_op(i, false);
}

void Net::Impl::plan_conv(size_t i, TuneCache* cache) {
  const Layer& l = model.layers[i];
  ConvPlan& p = convs[i];
  p.shape = conv_shape(l, shapes.at(l.inputs[0]), shapes.at(l.output));
  p.relu = fused_relu[i];
  const int64_t numel = shape_numel(l.weight.shape), stored = stored_weights(l);
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
  if (!forced_schedule.empty()) {
    p.schedule = forced;
  }
  if (options.tune && forced_schedule.empty()) {
    tune_conv(i, cache);
  } else {
    p.op = make_rule_op(i);
    prof.plan = "rule";
  }
  size_scratch(*p.op);
  prof.kernel = p.op->kernel_name() + (p.pad_only ? " +border" : "");
}

Status Net::Impl::check_model() {
  SQZ_RETURN_ERROR_IF(!(options.sparse_max_density >= 0 && options.sparse_max_density <= 1),
                      ErrorCode::kInvalidArgument,
                      "sparse_max_density must be a fraction in [0, 1], not " +
                          std::to_string(options.sparse_max_density));
  SQZ_ASSIGN_OR_RETURN(shapes, validate_and_infer(model, 1));
  // Codes-only layers stay so: the ops pack the codes. The reference kernel, and a dense op
  // for a full codebook with a mask (no free code for the zeros), read float32 weights.
  for (Layer& l : model.layers)
    if (l.codes_only() && (options.policy == KernelPolicy::kReference ||
                           (!l.mask.empty() && l.quant.codebook.size() >= 256)))
      expand_codes(l);
  SQZ_RETURN_ERROR_IF(options.images_per_pass < 0, ErrorCode::kInvalidArgument,
                      "images_per_pass must be 0 (from the caches) or more, not " +
                          std::to_string(options.images_per_pass));
  forced_schedule = options.force_schedule;
  if (!forced_schedule.empty()) {
    SQZ_ASSIGN_OR_RETURN(forced, parse_schedule(forced_schedule));
  }
  for (const Layer& l : model.layers)
    SQZ_RETURN_ERROR_IF(
        l.op == OpKind::kSoftmax &&
            (l.axis == 0 || l.axis == -static_cast<int64_t>(shapes.at(l.output).size())),
        ErrorCode::kUnsupported,
        "layer '" + l.name + "': softmax over the batch axis is not supported");
  return Status::ok();
}

// The activations' budget is checked before anything else allocates (the kernels' timed
// trials run on inputs of the layers' full size), against the least the plan can need: every
// pooling that may run inside its convolution taken as fused. Which ones do is known once the
// kernels are chosen; the plan is then made, and checked, exactly.
Status Net::Impl::check_memory_floor(const std::map<std::string, int>& consumers,
                                     const std::map<std::string, size_t>& producer) {
  for (const auto& [pooling, conv] : fusable_poolings(consumers, producer)) {
    const Layer& l = model.layers[pooling];
    elided.insert(model.layers[conv].output);
    convs[conv].fusable_pool = pool_shape(l, shapes.at(l.inputs[0]), shapes.at(l.output));
  }
  SQZ_RETURN_IF_ERROR(plan_memory(1, /*check_only=*/true));
  elided.clear();
  return Status::ok();
}

// The ops own their packed weights now: drops the dense copies (the reference path reads
// them).
void Net::Impl::drop_dense_weights() {
  if (options.policy == KernelPolicy::kReference) return;
  for (Layer& l : model.layers) {
    l.weight.data = {};
    l.mask = {};
    l.quant.codes = {};
  }
}

Status Net::Impl::plan() {
  SQZ_RETURN_IF_ERROR(check_model());
  const size_t n = model.layers.size();
  std::map<std::string, int> consumers;
  std::map<std::string, size_t> producer;
  consumers[model.output]++;
  for (size_t i = 0; i < n; ++i) {
    for (const std::string& in : model.layers[i].inputs) consumers[in]++;
    producer[model.layers[i].output] = i;
  }
  skip.assign(n, false);
  fused_relu.assign(n, false);
  SQZ_ASSIGN_OR_RETURN(pool, ThreadPool::create(std::max(1, options.threads)));
  scratch.resize(static_cast<size_t>(pool->threads()));
  convs.resize(n);
  profiles.resize(n);
  plan_aliases(consumers, producer);
  resolve_placements();
  SQZ_RETURN_IF_ERROR(check_memory_floor(consumers, producer));
  batch = 1;
  const auto t0 = std::chrono::steady_clock::now();
  std::unique_ptr<TuneCache> cache;
  if (options.tune && options.policy != KernelPolicy::kReference) cache = open_tune_cache(options);
  for (size_t i = 0; i < n; ++i) {
    const Layer& l = model.layers[i];
    profiles[i].name = l.name;
    profiles[i].kernel = skip[i] ? "alias" : op_name(l.op);
    if (l.op == OpKind::kConvolution) plan_conv(i, cache.get());
  }
  if (cache) close_tune_cache(*cache, &stats);
  plan_pool_fusion(consumers, producer);
  plan_add_fusion(consumers, producer);
  SQZ_RETURN_IF_ERROR(plan_memory(1));  // the exact plan, fused poolings' inputs elided
  arena_bytes_one_image = static_cast<int64_t>(arena.size() * sizeof(float));
  pass_images = images_per_pass_on(pool->threads());
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  drop_dense_weights();
  return Status::ok();
}

int64_t Net::Impl::images_per_pass_on(int threads) const {
  return options.images_per_pass > 0
             ? options.images_per_pass
             : images_in_l2(arena_bytes_one_image, threads, kernels::machine());
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
  const kernels::Machine& m = kernels::machine();
  SQZ_RETURN_ERROR_IF(m.isa_unknown, ErrorCode::kInvalidArgument, m.isa_error);
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

int64_t Net::images_per_pass() const { return impl_->pass_images; }
int Net::threads() const { return impl_->pool->threads(); }

Status Net::reserve(int64_t batch) {
  Impl& m = *impl_;
  SQZ_RETURN_ERROR_IF(batch < 1, ErrorCode::kInvalidArgument, "batch must be at least 1");
  batch = std::min(batch, m.pass_images);
  if (batch != m.batch) {
    SQZ_RETURN_IF_ERROR(m.plan_memory(batch));
    m.batch = batch;
  }
  return Status::ok();
}

Status Net::forward(const float* input, int64_t batch, std::vector<float>* output) {
  Impl& m = *impl_;
  SQZ_RETURN_IF_ERROR(reserve(batch));
  const int64_t in_size = per_image(m.shapes.at(m.model.input));
  SQZ_RETURN_IF_ERROR(check_finite_inputs(input, batch, in_size));
  const int64_t n = output_size();
  output->resize(static_cast<size_t>(batch * n));
  if (const int streams = m.stream_count(batch); streams > 1) {
    SQZ_RETURN_IF_ERROR(m.run_streams(input, batch, streams, output->data()));
    return check_finite_outputs(output->data(), batch, n);
  }
  for (int64_t first = 0; first < batch; first += m.batch) {
    const int64_t images = std::min(m.batch, batch - first);
    m.run_pass(input + first * in_size, images, output->data() + first * n);
  }
  return check_finite_outputs(output->data(), batch, n);
}

// One pass over `images` (at most the planned batch): the layers read the arena's first
// images; the activations of the rest are stale and not read.
void Net::Impl::run_pass(const float* input, int64_t images, float* output) {
  const int64_t in_size = per_image(shapes.at(model.input));
  std::memcpy(blob_ptr(model.input, 0), input, sizeof(float) * images * in_size);
  const int64_t planned = batch;
  batch = images;
  for (size_t i = 0; i < model.layers.size(); ++i) {
    if (skip[i]) continue;
    const auto t0 = std::chrono::steady_clock::now();
    run_layer(i);
    if (profiling)
      profiles[i].seconds +=
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  batch = planned;
  const int64_t n = per_image(shapes.at(model.output));
  for (int64_t b = 0; b < images; ++b)
    std::memcpy(output + b * n, blob_ptr(model.output, b), sizeof(float) * n);
}

const PlanStats& Net::plan_stats() const { return impl_->stats; }

void Net::set_conv_input_hook(ConvInputHook hook) { impl_->conv_input_hook = std::move(hook); }
void Net::set_profiling(bool on) { impl_->profiling = on; }
// With image streams, a layer's time adds its streams' mean (they run at once).
std::vector<LayerProfile> Net::profile() const {
  std::vector<LayerProfile> out = impl_->profiles;
  const auto& streams = impl_->streams;
  for (const auto& s : streams)
    for (size_t i = 0; i < out.size(); ++i)
      out[i].seconds += s->profiles[i].seconds / static_cast<double>(streams.size());
  return out;
}

}  // namespace sqz::runtime
