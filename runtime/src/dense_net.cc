#include "sqz/runtime/dense_net.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <map>

#include "../kernels/conv_gemm.h"
#include "../kernels/pool.h"
#include "../kernels/ref/conv_ref.h"
#include "sqz/runtime/thread_pool.h"

namespace sqz::rt {
namespace {

// Where a blob lives: inside root blob `root`, at `offset` floats into each image.
struct Placement {
  std::string parent;  // empty: the blob owns its storage
  int64_t channel_offset = 0;
};

int64_t per_image(const Shape& s) { return shape_numel(s) / s[0]; }

int64_t spatial(const Shape& s) { return s.size() == 4 ? s[2] * s[3] : 1; }

}  // namespace

struct DenseNet::Impl {
  Model model;
  NetOptions options;
  std::map<std::string, Shape> shapes;  // batch 1
  std::map<std::string, Placement> placement;
  std::vector<bool> skip;        // per layer: nothing to execute (fused or alias)
  std::vector<bool> fused_relu;  // per layer (convolutions)
  std::map<std::string, std::vector<bool>> concat_needs_copy;
  std::vector<std::unique_ptr<ConvGemm>> convs;  // per layer, null unless a GEMM conv
  std::vector<LayerProfile> profiles;
  bool profiling = false;
  std::unique_ptr<ThreadPool> pool;
  std::vector<std::vector<float>> scratch;            // per thread
  std::vector<float> col;                             // im2col buffer, one image
  std::map<std::string, std::vector<float>> storage;  // root blob -> batch x per-image
  int64_t batch = 0;

  Status plan();
  void resolve(const std::string& blob, std::string* root, int64_t* offset) const;
  float* blob_ptr(const std::string& blob, int64_t image);
  void run_layer(size_t i);
  void run_conv(size_t i);
  void run_pool(const Layer& l);
  void run_concat(const Layer& l);
  void run_elementwise(const Layer& l);
};

void DenseNet::Impl::resolve(const std::string& blob, std::string* root, int64_t* offset) const {
  auto it = placement.find(blob);
  if (it == placement.end() || it->second.parent.empty()) {
    *root = blob;
    *offset = 0;
    return;
  }
  resolve(it->second.parent, root, offset);
  *offset += it->second.channel_offset * spatial(shapes.at(blob));
}

float* DenseNet::Impl::blob_ptr(const std::string& blob, int64_t image) {
  std::string root;
  int64_t offset;
  resolve(blob, &root, &offset);
  return storage.at(root).data() + image * per_image(shapes.at(root)) + offset;
}

Status DenseNet::Impl::plan() {
  SQZ_ASSIGN_OR_RETURN(shapes, validate_and_infer(model, 1));
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
  convs.resize(n);
  // Aliases: ReLU fused into its convolution, Dropout and Flatten as views.
  for (size_t i = 0; i < n; ++i) {
    const Layer& l = model.layers[i];
    if (l.op == OpKind::kDropout || l.op == OpKind::kFlatten) {
      skip[i] = true;
      placement[l.output] = {l.inputs[0], 0};
    } else if (l.op == OpKind::kRelu && producer.count(l.inputs[0]) &&
               model.layers[producer[l.inputs[0]]].op == OpKind::kConvolution &&
               consumers[l.inputs[0]] == 1) {
      skip[i] = true;
      fused_relu[producer[l.inputs[0]]] = true;
      placement[l.output] = {l.inputs[0], 0};
    }
  }
  // Concat along channels without copies: a producer whose output (through single-consumer
  // aliases) feeds only this concat writes straight into its slice.
  for (size_t i = 0; i < n; ++i) {
    const Layer& l = model.layers[i];
    if (l.op != OpKind::kConcat) continue;
    std::vector<bool>& copy = concat_needs_copy[l.output];
    int64_t offset = 0;
    for (const std::string& in : l.inputs) {
      std::string r = in;
      bool ok = consumers[r] == 1;
      while (ok && placement.count(r) && !placement[r].parent.empty()) {
        r = placement[r].parent;
        ok = consumers[r] == 1;
      }
      ok = ok && r != model.input && producer.count(r) && !placement.count(r);
      if (ok) placement[r] = {l.output, offset};
      copy.push_back(!ok);
      offset += shapes.at(in)[1];
    }
    skip[i] = std::none_of(copy.begin(), copy.end(), [](bool b) { return b; });
  }
  const GemmKernel& kernel = best_gemm_kernel();
  profiles.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const Layer& l = model.layers[i];
    profiles[i].name = l.name;
    profiles[i].kernel = skip[i] ? "alias" : op_name(l.op);
    if (l.op != OpKind::kConvolution) continue;
    const Shape& in = shapes.at(l.inputs[0]);
    const Shape& out = shapes.at(l.output);
    ConvShape s{in[1],        in[2],           in[3],           out[1],          out[2],
                out[3],       l.conv.kernel_h, l.conv.kernel_w, l.conv.stride_h, l.conv.stride_w,
                l.conv.pad_h, l.conv.pad_w,    l.conv.groups};
    profiles[i].flops =
        2.0 * static_cast<double>(l.weight.numel()) * static_cast<double>(s.out_size());
    if (options.reference_kernels) {
      profiles[i].kernel = "conv2d_f32_ref";
      continue;
    }
    convs[i] = std::make_unique<ConvGemm>(s, l.weight.data.data(),
                                          l.conv.has_bias ? l.bias.data.data() : nullptr,
                                          fused_relu[i], kernel);
    profiles[i].kernel = kernel.name;
  }
  pool = std::make_unique<ThreadPool>(std::max(1, options.threads));
  scratch.resize(static_cast<size_t>(pool->threads()));
  for (auto& c : convs)
    if (c)
      for (auto& s : scratch)
        s.resize(std::max(s.size(), static_cast<size_t>(c->scratch_floats())));
  return Status::ok();
}

void DenseNet::Impl::run_conv(size_t i) {
  const Layer& l = model.layers[i];
  const ConvGemm* conv = convs[i].get();
  if (!conv) {  // reference path
    const Shape& in = shapes.at(l.inputs[0]);
    const Shape& out = shapes.at(l.output);
    ConvShape s{in[1],        in[2],           in[3],           out[1],          out[2],
                out[3],       l.conv.kernel_h, l.conv.kernel_w, l.conv.stride_h, l.conv.stride_w,
                l.conv.pad_h, l.conv.pad_w,    l.conv.groups};
    for (int64_t b = 0; b < batch; ++b)
      ref::conv2d_f32(s, blob_ptr(l.inputs[0], b), l.weight.data.data(),
                      l.conv.has_bias ? l.bias.data.data() : nullptr, fused_relu[i],
                      blob_ptr(l.output, b));
    return;
  }
  const int64_t items = conv->work_items();
  if (conv->direct()) {
    std::vector<const float*> ins(static_cast<size_t>(batch));
    std::vector<float*> outs(static_cast<size_t>(batch));
    for (int64_t b = 0; b < batch; ++b)
      ins[b] = blob_ptr(l.inputs[0], b), outs[b] = blob_ptr(l.output, b);
    pool->parallel_for(batch * items, [&](int64_t begin, int64_t end, int t) {
      for (int64_t w = begin; w < end;) {
        const int64_t b = w / items, stop = std::min(end, (b + 1) * items);
        conv->run_items(ins[b], outs[b], w - b * items, stop - b * items, scratch[t].data());
        w = stop;
      }
    });
    return;
  }
  col.resize(std::max(col.size(), static_cast<size_t>(conv->im2col_floats())));
  for (int64_t b = 0; b < batch; ++b) {
    const float* in = blob_ptr(l.inputs[0], b);
    float* out = blob_ptr(l.output, b);
    pool->parallel_for(conv->im2col_rows(), [&](int64_t begin, int64_t end, int) {
      conv->im2col(in, col.data(), begin, end);
    });
    pool->parallel_for(items, [&](int64_t begin, int64_t end, int t) {
      conv->run_items(col.data(), out, begin, end, scratch[t].data());
    });
  }
}

void DenseNet::Impl::run_pool(const Layer& l) {
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
    PoolShape s{in[1],           in[2],           in[3],           out[2],
                out[3],          l.pool.kernel_h, l.pool.kernel_w, l.pool.stride_h,
                l.pool.stride_w, l.pool.pad_h,    l.pool.pad_w,    l.pool.average_counts_padding};
    (l.op == OpKind::kMaxPool ? maxpool2d_f32 : avgpool2d_f32)(s, src, dst);
  }
}

void DenseNet::Impl::run_concat(const Layer& l) {
  const Shape& out = shapes.at(l.output);
  const std::vector<bool>& copy = concat_needs_copy.at(l.output);
  // Elements of one image's slice of input k: channels-and-below for axis 1.
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

void DenseNet::Impl::run_elementwise(const Layer& l) {
  const Shape& s = shapes.at(l.output);
  const int64_t n = per_image(s);
  for (int64_t b = 0; b < batch; ++b) {
    const float* src = blob_ptr(l.inputs[0], b);
    float* dst = blob_ptr(l.output, b);
    if (l.op == OpKind::kRelu) {
      for (int64_t k = 0; k < n; ++k) dst[k] = src[k] > 0 ? src[k] : 0.0f;
      continue;
    }
    // Softmax over axis 1 at every position below it.
    const int64_t c = s[1], inner = n / c;
    for (int64_t p = 0; p < inner; ++p) {
      float m = -INFINITY;
      for (int64_t k = 0; k < c; ++k) m = std::max(m, src[k * inner + p]);
      double sum = 0;
      for (int64_t k = 0; k < c; ++k) sum += std::exp(double{src[k * inner + p]} - m);
      for (int64_t k = 0; k < c; ++k)
        dst[k * inner + p] = static_cast<float>(std::exp(double{src[k * inner + p]} - m) / sum);
    }
  }
}

void DenseNet::Impl::run_layer(size_t i) {
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
    case OpKind::kSoftmax:
      run_elementwise(l);
      break;
    case OpKind::kDropout:
    case OpKind::kFlatten:
      break;
  }
}

DenseNet::DenseNet(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DenseNet::~DenseNet() = default;

Result<std::unique_ptr<DenseNet>> DenseNet::create(const Model& model, const NetOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->model = model;
  impl->options = options;
  SQZ_RETURN_IF_ERROR(impl->plan());
  return std::unique_ptr<DenseNet>(new DenseNet(std::move(impl)));
}

const Shape& DenseNet::input_chw() const {
  static thread_local Shape chw;
  const Shape& s = impl_->model.input_shape;
  chw.assign(s.begin() + 1, s.end());
  return chw;
}

int64_t DenseNet::output_size() const { return per_image(impl_->shapes.at(impl_->model.output)); }

Status DenseNet::forward(const float* input, int64_t batch, std::vector<float>* output) {
  Impl& m = *impl_;
  SQZ_RETURN_ERROR_IF(batch < 1, ErrorCode::kInvalidArgument, "batch must be at least 1");
  if (batch != m.batch) {
    m.storage.clear();
    for (const auto& [name, shape] : m.shapes) {
      auto it = m.placement.find(name);
      if (it == m.placement.end() || it->second.parent.empty())
        m.storage[name].resize(static_cast<size_t>(batch * per_image(shape)));
    }
    m.batch = batch;
  }
  std::vector<float>& in = m.storage.at(m.model.input);
  std::memcpy(in.data(), input, sizeof(float) * in.size());
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

void DenseNet::set_profiling(bool on) { impl_->profiling = on; }
std::vector<LayerProfile> DenseNet::profile() const { return impl_->profiles; }

}  // namespace sqz::rt
