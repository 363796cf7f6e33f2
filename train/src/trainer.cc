#include "sqz/train/trainer.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <map>
#include <random>

#if defined(__SSE2__)
#include <xmmintrin.h>
#endif

#include "sqz/kernels/conv_shape.h"
#include "sqz/kernels/im2col.h"
#include "sqz/kernels/sgemm.h"
#include "sqz/kernels/softmax.h"
#include "sqz/runtime/thread_pool.h"

namespace sqz::train {
namespace {

int64_t per_image(const Shape& s) { return shape_numel(s) / s[0]; }

kernels::ConvShape conv_shape(const Layer& l, const Shape& in, const Shape& out) {
  return {in[1],
          in[2],
          in[3],
          out[1],
          out[2],
          out[3],
          l.conv.kernel_h,
          l.conv.kernel_w,
          l.conv.stride_h,
          l.conv.stride_w,
          l.conv.pad_h,
          l.conv.pad_w,
          1};
}

// Adds the im2col-shaped gradient back onto the input image (the adjoint of im2col). Per
// row, the output columns whose input column lies inside the image are found once, so the
// inner loop has no bounds checks (and vectorizes for stride 1).
// col: K rows of one image's out_h*out_w gradients, row stride ld.
void col2im_add(const kernels::ConvShape& s, const float* col, int64_t ld, float* dx) {
  const int64_t taps = s.kh * s.kw, n = ld;
  for (int64_t row = 0; row < s.in_c * taps; ++row) {
    const int64_t c = row / taps, i = row % taps / s.kw, j = row % s.kw;
    float* plane = dx + c * s.in_h * s.in_w;
    const float* src = col + row * n;
    const int64_t x_lo = std::min(s.out_w, std::max<int64_t>(0, (s.pw - j + s.sw - 1) / s.sw));
    const int64_t x_hi = std::max(x_lo, std::min(s.out_w, (s.in_w + s.pw - j + s.sw - 1) / s.sw));
    for (int64_t oy = 0; oy < s.out_h; ++oy) {
      const int64_t iy = oy * s.sh - s.ph + i;
      if (iy < 0 || iy >= s.in_h) continue;
      float* dst = plane + iy * s.in_w + x_lo * s.sw - s.pw + j;
      const float* g = src + oy * s.out_w + x_lo;
      if (s.sw == 1)
        for (int64_t x = 0; x < x_hi - x_lo; ++x) dst[x] += g[x];
      else
        for (int64_t x = 0; x < x_hi - x_lo; ++x) dst[x * s.sw] += g[x];
    }
  }
}

// dx += dy where the ReLU's output y is positive. Restrict pointers and unconditional loads,
// so that the loop vectorizes (the vectors live in one map; a conditional load cannot be
// speculated).
void relu_backward_add(const float* __restrict y, const float* __restrict dy, size_t n,
                       float* __restrict dx) {
  for (size_t k = 0; k < n; ++k) {
    const float g = dy[k], keep = y[k] > 0 ? 1.0f : 0.0f;
    dx[k] += g * keep;
  }
}

// dst += src (restrict pointers: the vectors live in one map).
void add_floats(const float* __restrict src, int64_t n, float* __restrict dst) {
  for (int64_t k = 0; k < n; ++k) dst[k] += src[k];
}

// dx = dy where the ReLU's output y is positive, else 0.
void relu_backward_set(const float* __restrict y, const float* __restrict dy, int64_t n,
                       float* __restrict dx) {
  for (int64_t k = 0; k < n; ++k) {
    const float g = dy[k];
    dx[k] = y[k] > 0 ? g : 0.0f;
  }
}

// dst[c][r] = src[r][c] for a rows x cols matrix (row strides lds, ldd): 4x4 register
// transposes (SSE, baseline x86-64) inside 32x32 cache blocks, scalar at the edges.
void transpose(const float* src, int64_t rows, int64_t cols, int64_t lds, float* dst, int64_t ldd) {
  constexpr int64_t kBlock = 32;
  for (int64_t r0 = 0; r0 < rows; r0 += kBlock)
    for (int64_t c0 = 0; c0 < cols; c0 += kBlock) {
      const int64_t r1 = std::min(rows, r0 + kBlock), c1 = std::min(cols, c0 + kBlock);
      int64_t r = r0;
#if defined(__SSE2__)
      for (; r + 4 <= r1; r += 4) {
        int64_t c = c0;
        for (; c + 4 <= c1; c += 4) {
          __m128 a = _mm_loadu_ps(src + r * lds + c), b = _mm_loadu_ps(src + (r + 1) * lds + c),
                 e = _mm_loadu_ps(src + (r + 2) * lds + c),
                 f = _mm_loadu_ps(src + (r + 3) * lds + c);
          _MM_TRANSPOSE4_PS(a, b, e, f);
          _mm_storeu_ps(dst + c * ldd + r, a);
          _mm_storeu_ps(dst + (c + 1) * ldd + r, b);
          _mm_storeu_ps(dst + (c + 2) * ldd + r, e);
          _mm_storeu_ps(dst + (c + 3) * ldd + r, f);
        }
        for (; c < c1; ++c)
          for (int64_t i = r; i < r + 4; ++i) dst[c * ldd + i] = src[i * lds + c];
      }
#endif
      for (; r < r1; ++r)
        for (int64_t c = c0; c < c1; ++c) dst[c * ldd + r] = src[r * lds + c];
    }
}

// Optimizer state for one parameter vector.
struct Param {
  std::vector<float> grad, m, v;
  void resize(size_t n) {
    grad.assign(n, 0.0f);
    m.assign(n, 0.0f);
    v.assign(n, 0.0f);
  }
};

struct ConvState {
  Param w, b, centroids;
  bool centroid_mode = false;
  std::vector<int64_t> stored;  // positions of the stored weights (mask order)
};

// Per-thread activations, gradients and saved state for backward.
struct Worker {
  std::map<std::string, std::vector<float>> act, grad;
  std::map<size_t, std::vector<float>> cols;          // conv layer -> n x K x HW
  std::map<size_t, std::vector<int32_t>> argmax;      // max pool layer -> output -> input index
  std::map<size_t, std::vector<float>> dropout_mask;  // dropout layer -> scale per element
  std::map<size_t, std::vector<float>> grad_w, grad_b;
  std::vector<float> tmp, tmp2, tmp3, gemm;  // scratch
};

}  // namespace

struct Trainer::Impl {
  Model* model;
  TrainOptions o;
  std::map<std::string, Shape> shapes;  // batch 1
  std::vector<size_t> order;            // layers run while training
  std::string logits;                   // blob the loss reads
  int64_t classes = 0;
  std::map<size_t, ConvState> convs;
  // A convolution whose output only a ReLU reads applies that ReLU itself and writes the
  // ReLU's blob: one pass less each way, and no blob for the pre-activation.
  std::map<size_t, size_t> fused_relu;  // convolution layer -> its ReLU layer
  std::vector<bool> fused_away;         // ReLU layers run inside their convolution
  std::unique_ptr<runtime::ThreadPool> pool;
  std::vector<Worker> workers;
  int64_t steps = 0;

  Status init();
  // The blob a layer's results land in (a fused convolution's: its ReLU's output).
  const std::string& output_of(size_t li) const {
    auto it = fused_relu.find(li);
    return model->layers[it == fused_relu.end() ? li : it->second].output;
  }
  void forward(Worker& w, const float* x, int64_t n, bool training, uint64_t rng_key);
  void backward(Worker& w, int64_t n);
  double loss_and_grad(Worker& w, const int* labels, const float* teacher, int64_t n,
                       int64_t total);
  void update();
  double lr() const;
  Result<double> run_batch(const float* images, const int* labels, const float* teacher, int64_t n);
};

Status Trainer::Impl::init() {
  SQZ_ASSIGN_OR_RETURN(shapes, validate_and_infer(*model, 1));
  for (size_t i = 0; i < model->layers.size(); ++i) order.push_back(i);
  logits = model->output;
  if (!model->layers.empty() && model->layers.back().op == OpKind::kSoftmax &&
      model->layers.back().output == model->output) {
    logits = model->layers.back().inputs[0];
    order.pop_back();
  }
  classes = per_image(shapes.at(logits));
  SQZ_RETURN_ERROR_IF(shape_numel(shapes.at(logits)) != classes || classes < 2,
                      ErrorCode::kUnsupported,
                      "training needs one score per class at the output, got " +
                          shape_to_string(shapes.at(logits)));
  for (size_t i : order) {
    const Layer& l = model->layers[i];
    SQZ_RETURN_ERROR_IF(l.op == OpKind::kConvolution && l.conv.groups != 1, ErrorCode::kUnsupported,
                        "layer '" + l.name + "': training supports groups = 1 only");
    SQZ_RETURN_ERROR_IF(l.op == OpKind::kAvgPool && !l.pool.global, ErrorCode::kUnsupported,
                        "layer '" + l.name + "': training supports global average pooling only");
    SQZ_RETURN_ERROR_IF(l.op == OpKind::kConcat && l.axis != 1, ErrorCode::kUnsupported,
                        "layer '" + l.name + "': training supports channel concat only");
    SQZ_RETURN_ERROR_IF(l.op == OpKind::kSoftmax && l.axis != 1 &&
                            l.axis != 1 - static_cast<int64_t>(shapes.at(l.inputs[0]).size()),
                        ErrorCode::kUnsupported,
                        "layer '" + l.name + "': training supports a channel softmax only");
    if (l.op != OpKind::kConvolution) continue;
    ConvState& c = convs[i];
    c.w.resize(l.weight.data.size());
    c.b.resize(l.bias.data.size());
    c.centroid_mode = o.train_centroids && l.quant.active();
    if (c.centroid_mode) c.centroids.resize(l.quant.codebook.size());
    for (size_t k = 0; k < l.weight.data.size(); ++k)
      if (l.mask.empty() || l.mask[k]) c.stored.push_back(static_cast<int64_t>(k));
  }
  std::map<std::string, int> readers;
  readers[logits]++;
  for (size_t i : order)
    for (const std::string& in : model->layers[i].inputs) readers[in]++;
  fused_away.assign(model->layers.size(), false);
  for (size_t i : order) {
    const Layer& r = model->layers[i];
    if (r.op != OpKind::kRelu || readers[r.inputs[0]] != 1) continue;
    for (size_t j : order)
      if (model->layers[j].output == r.inputs[0] && model->layers[j].op == OpKind::kConvolution) {
        fused_relu[j] = i;
        fused_away[i] = true;
      }
  }
  SQZ_ASSIGN_OR_RETURN(pool, runtime::ThreadPool::create(std::max(1, o.threads)));
  workers.resize(static_cast<size_t>(pool->threads()));
  return Status::ok();
}

void Trainer::Impl::forward(Worker& w, const float* x, int64_t n, bool training, uint64_t rng_key) {
  const Shape& in_shape = shapes.at(model->input);
  w.act[model->input].assign(x, x + n * per_image(in_shape));
  for (size_t li : order) {
    if (fused_away[li]) continue;
    const Layer& l = model->layers[li];
    const std::vector<float>& in = w.act.at(l.inputs[0]);
    std::vector<float>& out = w.act[output_of(li)];
    const bool relu = fused_relu.count(li) > 0;
    const Shape& is = shapes.at(l.inputs[0]);
    const Shape& os = shapes.at(l.output);
    out.resize(static_cast<size_t>(n * per_image(os)));  // every op below writes all of it
    switch (l.op) {
      case OpKind::kConvolution: {
        // One GEMM for the whole shard: cols = [K x (n * HW)], Y = W x cols.
        const kernels::ConvShape s = conv_shape(l, is, os);
        const int64_t k = s.k_per_group(), hw = s.out_size(), wide = n * hw;
        std::vector<float>& cols = w.cols[li];
        cols.resize(static_cast<size_t>(k * wide));
        std::vector<float>& img = w.tmp;
        img.resize(static_cast<size_t>(k * hw));
        for (int64_t b = 0; b < n; ++b) {
          kernels::im2col(s, in.data() + b * per_image(is), img.data(), 0, k, 0, hw);
          for (int64_t r = 0; r < k; ++r)
            std::copy(img.begin() + r * hw, img.begin() + (r + 1) * hw,
                      cols.begin() + r * wide + b * hw);
        }
        std::vector<float>& y = w.tmp2;
        y.resize(static_cast<size_t>(s.out_c * wide));
        kernels::sgemm(s.out_c, wide, k, l.weight.data.data(), k, false, cols.data(), wide, y.data(),
                  wide, &w.gemm);
        for (int64_t c = 0; c < s.out_c; ++c) {
          const float bias = l.conv.has_bias ? l.bias.data[c] : 0.0f;
          for (int64_t b = 0; b < n; ++b) {
            const float* src = y.data() + c * wide + b * hw;
            float* dst = out.data() + b * per_image(os) + c * hw;
            if (relu)
              for (int64_t p = 0; p < hw; ++p) dst[p] = std::max(src[p] + bias, 0.0f);
            else
              for (int64_t p = 0; p < hw; ++p) dst[p] = src[p] + bias;
          }
        }
        break;
      }
      case OpKind::kRelu:
        for (size_t k = 0; k < out.size(); ++k) out[k] = in[k] > 0 ? in[k] : 0.0f;
        break;
      case OpKind::kDropout: {
        if (!training || o.dropout <= 0) {
          out = in;
          break;
        }
        std::mt19937_64 rng(o.seed * 1000003 + rng_key * 131 + li);
        std::bernoulli_distribution keep(1.0 - o.dropout);
        std::vector<float>& mask = w.dropout_mask[li];
        mask.resize(in.size());
        for (size_t k = 0; k < in.size(); ++k) {
          mask[k] = keep(rng) ? static_cast<float>(1.0 / (1.0 - o.dropout)) : 0.0f;
          out[k] = in[k] * mask[k];
        }
        break;
      }
      case OpKind::kFlatten:
        out = in;
        break;
      case OpKind::kMaxPool: {
        std::vector<int32_t>& arg = w.argmax[li];
        arg.resize(out.size());
        const int64_t ih = is[2], iw = is[3], oh = os[2], ow = os[3];
        const PoolParams& p = l.pool;
        const int64_t kh = p.global ? ih : p.kernel_h, kw = p.global ? iw : p.kernel_w,
                      sh = p.global ? 1 : p.stride_h, sw = p.global ? 1 : p.stride_w,
                      ph = p.global ? 0 : p.pad_h, pw = p.global ? 0 : p.pad_w;
        for (int64_t bc = 0; bc < n * is[1]; ++bc) {
          const float* plane = in.data() + bc * ih * iw;
          float* o = out.data() + bc * oh * ow;
          int32_t* a = arg.data() + bc * oh * ow;
          for (int64_t oy = 0; oy < oh; ++oy) {
            const int64_t y0 = std::max<int64_t>(oy * sh - ph, 0),
                          y1 = std::min(oy * sh - ph + kh, ih);
            for (int64_t ox = 0; ox < ow; ++ox) {
              const int64_t x0 = std::max<int64_t>(ox * sw - pw, 0),
                            x1 = std::min(ox * sw - pw + kw, iw);
              float best = -INFINITY;
              int32_t at = -1;
              for (int64_t y = y0; y < y1; ++y)
                for (int64_t x = x0; x < x1; ++x) {  // branch-free: the winner is unpredictable
                  const float v = plane[y * iw + x];
                  const bool better = v > best;
                  best = better ? v : best;
                  at = better ? static_cast<int32_t>(y * iw + x) : at;
                }
              o[oy * ow + ox] = at >= 0 ? best : 0.0f;
              a[oy * ow + ox] = at;
            }
          }
        }
        break;
      }
      case OpKind::kAvgPool: {
        const int64_t plane = is[2] * is[3];
        for (int64_t bc = 0; bc < n * is[1]; ++bc) {
          double sum = 0;
          for (int64_t k = 0; k < plane; ++k) sum += in[bc * plane + k];
          out[bc] = static_cast<float>(sum / plane);
        }
        break;
      }
      case OpKind::kAdd: {
        out = in;
        for (size_t k = 1; k < l.inputs.size(); ++k)
          add_floats(w.act.at(l.inputs[k]).data(), static_cast<int64_t>(out.size()), out.data());
        break;
      }
      case OpKind::kConcat: {
        int64_t offset = 0;
        for (const std::string& name : l.inputs) {
          const std::vector<float>& src = w.act.at(name);
          const int64_t len = per_image(shapes.at(name));
          for (int64_t b = 0; b < n; ++b)
            std::copy(src.begin() + b * len, src.begin() + (b + 1) * len,
                      out.begin() + b * per_image(os) + offset);
          offset += len;
        }
        break;
      }
      case OpKind::kSoftmax: {
        const int64_t c = os[1], inner = per_image(os) / c;
        kernels::softmax_f32(in.data(), n, c, inner, out.data());  // the channel softmax
        break;
      }
    }
  }
}

double Trainer::Impl::loss_and_grad(Worker& w, const int* labels, const float* teacher, int64_t n,
                                    int64_t total) {
  const std::vector<float>& z = w.act.at(logits);
  std::vector<float>& dz = w.grad[logits];
  dz.assign(z.size(), 0.0f);
  const double alpha = o.distill_alpha, t = o.distill_temperature;
  double loss = 0;
  std::vector<double> p(static_cast<size_t>(classes)), q(static_cast<size_t>(classes)),
      pt(static_cast<size_t>(classes));
  auto softmax = [&](const float* x, double temp, std::vector<double>& out) {
    double m = -INFINITY, sum = 0;
    for (int64_t c = 0; c < classes; ++c) m = std::max(m, x[c] / temp);
    for (int64_t c = 0; c < classes; ++c) sum += out[c] = std::exp(x[c] / temp - m);
    for (double& v : out) v /= sum;
  };
  for (int64_t b = 0; b < n; ++b) {
    const float* zb = z.data() + b * classes;
    float* db = dz.data() + b * classes;
    if (alpha > 0) {
      softmax(zb, 1.0, p);
      loss += -alpha * std::log(std::max(p[labels[b]], 1e-30));
      for (int64_t c = 0; c < classes; ++c)
        db[c] += static_cast<float>(alpha * (p[c] - (c == labels[b])) / total);
    }
    if (alpha < 1) {
      softmax(zb, t, q);
      softmax(teacher + b * classes, t, pt);
      for (int64_t c = 0; c < classes; ++c) {
        if (pt[c] > 0)
          loss += (1 - alpha) * t * t * pt[c] * (std::log(pt[c]) - std::log(std::max(q[c], 1e-30)));
        db[c] += static_cast<float>((1 - alpha) * t * (q[c] - pt[c]) / total);
      }
    }
  }
  return loss;
}

void Trainer::Impl::backward(Worker& w, int64_t n) {
  for (auto& [name, g] : w.grad)
    if (name != logits) std::fill(g.begin(), g.end(), 0.0f);
  auto grad_of = [&](const std::string& blob) -> std::vector<float>& {
    std::vector<float>& g = w.grad[blob];
    g.resize(static_cast<size_t>(n * per_image(shapes.at(blob))), 0.0f);
    return g;
  };
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    const size_t li = *it;
    if (fused_away[li]) continue;
    const Layer& l = model->layers[li];
    auto found = w.grad.find(output_of(li));
    if (found == w.grad.end()) continue;  // nothing downstream needs this layer
    const std::vector<float>& dy = found->second;
    const Shape& is = shapes.at(l.inputs[0]);
    const Shape& os = shapes.at(l.output);
    switch (l.op) {
      case OpKind::kConvolution: {
        // dW = dY x cols^T and dcols = W^T x dY over the shard at once (dY as [M x n*HW]).
        const kernels::ConvShape s = conv_shape(l, is, os);
        const int64_t k = s.k_per_group(), hw = s.out_size(), wide = n * hw;
        std::vector<float>& dyw = w.tmp2;
        dyw.resize(static_cast<size_t>(s.out_c * wide));
        const float* y = fused_relu.count(li) ? w.act.at(output_of(li)).data() : nullptr;
        for (int64_t b = 0; b < n; ++b)
          for (int64_t c = 0; c < s.out_c; ++c) {
            const int64_t from = b * per_image(os) + c * hw;
            if (y)  // through the fused ReLU: gradient only where its output is positive
              relu_backward_set(y + from, dy.data() + from, hw, dyw.data() + c * wide + b * hw);
            else
              std::copy(dy.begin() + from, dy.begin() + from + hw, dyw.begin() + c * wide + b * hw);
          }
        std::vector<float>& gw = w.grad_w[li];
        std::vector<float>& gb = w.grad_b[li];
        gw.resize(l.weight.data.size());  // both written whole below
        gb.resize(l.bias.data.size());
        const std::vector<float>& cols = w.cols.at(li);
        std::vector<float>& cols_t = w.tmp;  // [n*HW x K]
        cols_t.resize(static_cast<size_t>(wide * k));
        transpose(cols.data(), k, wide, wide, cols_t.data(), k);
        kernels::sgemm(s.out_c, k, wide, dyw.data(), wide, false, cols_t.data(), k, gw.data(), k,
                  &w.gemm);
        if (l.conv.has_bias)
          for (int64_t c = 0; c < s.out_c; ++c) {
            double sum = 0;  // in order: the committed sample's weights depend on it, bit for bit
            for (int64_t j = 0; j < wide; ++j) sum += dyw[c * wide + j];
            gb[c] = static_cast<float>(sum);
          }
        if (l.inputs[0] == model->input) break;
        std::vector<float>& dx = grad_of(l.inputs[0]);
        std::vector<float>& dcol = w.tmp3;
        dcol.resize(static_cast<size_t>(k * wide));
        kernels::sgemm(k, wide, s.out_c, l.weight.data.data(), k, true, dyw.data(), wide, dcol.data(),
                  wide, &w.gemm);
        for (int64_t b = 0; b < n; ++b)
          col2im_add(s, dcol.data() + b * hw, wide, dx.data() + b * per_image(is));
        break;
      }
      case OpKind::kRelu: {
        std::vector<float>& dx = grad_of(l.inputs[0]);
        relu_backward_add(w.act.at(l.output).data(), dy.data(), dx.size(), dx.data());
        break;
      }
      case OpKind::kDropout: {
        std::vector<float>& dx = grad_of(l.inputs[0]);
        auto m = w.dropout_mask.find(li);
        for (size_t k = 0; k < dx.size(); ++k)
          dx[k] += m == w.dropout_mask.end() ? dy[k] : dy[k] * m->second[k];
        break;
      }
      case OpKind::kFlatten: {
        std::vector<float>& dx = grad_of(l.inputs[0]);
        for (size_t k = 0; k < dx.size(); ++k) dx[k] += dy[k];
        break;
      }
      case OpKind::kMaxPool: {
        std::vector<float>& dx = grad_of(l.inputs[0]);
        const std::vector<int32_t>& arg = w.argmax.at(li);
        const int64_t plane_in = is[2] * is[3], plane_out = os[2] * os[3];
        for (size_t k = 0; k < arg.size(); ++k)
          if (arg[k] >= 0)
            dx[static_cast<size_t>(static_cast<int64_t>(k) / plane_out * plane_in + arg[k])] +=
                dy[k];
        break;
      }
      case OpKind::kAvgPool: {
        std::vector<float>& dx = grad_of(l.inputs[0]);
        const int64_t plane = is[2] * is[3];
        for (size_t k = 0; k < dx.size(); ++k)
          dx[k] += dy[static_cast<int64_t>(k) / plane] / static_cast<float>(plane);
        break;
      }
      case OpKind::kAdd: {
        for (const std::string& name : l.inputs)
          if (name != model->input)
            add_floats(dy.data(), static_cast<int64_t>(dy.size()), grad_of(name).data());
        break;
      }
      case OpKind::kConcat: {
        int64_t offset = 0;
        for (const std::string& name : l.inputs) {
          const int64_t len = per_image(shapes.at(name));
          if (name != model->input) {
            std::vector<float>& dx = grad_of(name);
            for (int64_t b = 0; b < n; ++b)
              add_floats(dy.data() + b * per_image(os) + offset, len, dx.data() + b * len);
          }
          offset += len;
        }
        break;
      }
      case OpKind::kSoftmax: {
        std::vector<float>& dx = grad_of(l.inputs[0]);
        const std::vector<float>& y = w.act.at(l.output);
        const int64_t c = os[1], inner = per_image(os) / c;
        for (int64_t b = 0; b < n; ++b)
          for (int64_t p = 0; p < inner; ++p) {
            const int64_t base = b * per_image(os) + p;
            double dot = 0;
            for (int64_t k = 0; k < c; ++k)
              dot += double{dy[base + k * inner]} * y[base + k * inner];
            for (int64_t k = 0; k < c; ++k)
              dx[base + k * inner] +=
                  static_cast<float>(y[base + k * inner] * (dy[base + k * inner] - dot));
          }
        break;
      }
    }
  }
}

double Trainer::Impl::lr() const {
  if (o.schedule == LrSchedule::kCosine && o.total_steps > 0)
    return o.learning_rate * 0.5 *
           (1 + std::cos(M_PI * std::min<double>(steps, o.total_steps) / o.total_steps));
  return o.learning_rate;
}

void Trainer::Impl::update() {
  const double rate = lr();
  const double t = static_cast<double>(steps + 1);
  auto apply = [&](Param& p, float* values, size_t count, double decay) {
    for (size_t k = 0; k < count; ++k) {
      const double g = p.grad[k] + decay * values[k];
      double delta;
      if (o.optimizer == Optimizer::kAdam) {
        p.m[k] = static_cast<float>(o.beta1 * p.m[k] + (1 - o.beta1) * g);
        p.v[k] = static_cast<float>(o.beta2 * p.v[k] + (1 - o.beta2) * g * g);
        const double mh = p.m[k] / (1 - std::pow(o.beta1, t)),
                     vh = p.v[k] / (1 - std::pow(o.beta2, t));
        delta = rate * mh / (std::sqrt(vh) + o.epsilon);
      } else {
        p.m[k] = static_cast<float>(o.momentum * p.m[k] + g);
        delta = rate * p.m[k];
      }
      values[k] = static_cast<float>(values[k] - delta);
    }
  };
  for (auto& [li, c] : convs) {
    Layer& l = model->layers[li];
    // Reduce the workers' gradients in a fixed order (determinism for a given thread count).
    std::fill(c.w.grad.begin(), c.w.grad.end(), 0.0f);
    std::fill(c.b.grad.begin(), c.b.grad.end(), 0.0f);
    for (Worker& w : workers) {
      auto gw = w.grad_w.find(li);
      if (gw == w.grad_w.end()) continue;
      for (size_t k = 0; k < c.w.grad.size(); ++k) c.w.grad[k] += gw->second[k];
      for (size_t k = 0; k < c.b.grad.size(); ++k) c.b.grad[k] += w.grad_b.at(li)[k];
    }
    apply(c.b, l.bias.data.data(), l.bias.data.size(), 0.0);
    if (c.centroid_mode) {  // Eq. 3: each centroid's gradient sums its weights' gradients
      std::fill(c.centroids.grad.begin(), c.centroids.grad.end(), 0.0f);
      for (size_t k = 0; k < c.stored.size(); ++k)
        c.centroids.grad[l.quant.codes[k]] += c.w.grad[static_cast<size_t>(c.stored[k])];
      apply(c.centroids, l.quant.codebook.data(), l.quant.codebook.size(), 0.0);
      for (size_t k = 0; k < c.stored.size(); ++k)
        l.weight.data[static_cast<size_t>(c.stored[k])] = l.quant.codebook[l.quant.codes[k]];
      continue;
    }
    if (!l.mask.empty())  // pruned weights get no gradient and stay 0
      for (size_t k = 0; k < l.mask.size(); ++k)
        if (!l.mask[k]) c.w.grad[k] = 0.0f;
    apply(c.w, l.weight.data.data(), l.weight.data.size(), o.weight_decay);
    if (!l.mask.empty())
      for (size_t k = 0; k < l.mask.size(); ++k)
        if (!l.mask[k]) l.weight.data[k] = 0.0f;
  }
}

Trainer::Trainer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Trainer::~Trainer() = default;

Result<std::unique_ptr<Trainer>> Trainer::create(Model* model, const TrainOptions& options) {
  SQZ_RETURN_ERROR_IF(
      options.distill_alpha < 0 || options.distill_alpha > 1 || options.distill_temperature <= 0,
      ErrorCode::kInvalidArgument, "distillation needs 0 <= alpha <= 1 and T > 0");
  SQZ_RETURN_ERROR_IF(!(options.dropout >= 0 && options.dropout < 1), ErrorCode::kInvalidArgument,
                      "dropout must be in [0, 1)");
  auto impl = std::make_unique<Impl>();
  impl->model = model;
  impl->o = options;
  SQZ_RETURN_IF_ERROR(impl->init());
  return std::unique_ptr<Trainer>(new Trainer(std::move(impl)));
}

// Forward, loss and backward over the batch split across the workers (gradients stay in
// the workers). Returns the mean loss.
Result<double> Trainer::Impl::run_batch(const float* images, const int* labels,
                                        const float* teacher, int64_t n) {
  SQZ_RETURN_ERROR_IF(n < 1, ErrorCode::kInvalidArgument, "empty batch");
  SQZ_RETURN_ERROR_IF(o.distill_alpha > 0 && !labels, ErrorCode::kInvalidArgument, "labels needed");
  SQZ_RETURN_ERROR_IF(o.distill_alpha < 1 && !teacher, ErrorCode::kInvalidArgument,
                      "teacher logits needed");
  if (labels)
    for (int64_t b = 0; b < n; ++b)
      SQZ_RETURN_ERROR_IF(
          labels[b] < 0 || labels[b] >= classes, ErrorCode::kInvalidArgument,
          "label " + std::to_string(labels[b]) + " is outside 0.." + std::to_string(classes - 1));
  const int64_t shards = std::min<int64_t>(static_cast<int64_t>(workers.size()), n);
  const int64_t in_size = per_image(shapes.at(model->input));
  std::vector<double> losses(static_cast<size_t>(shards), 0.0);
  for (Worker& w : workers) w.grad_w.clear(), w.grad_b.clear();
  pool->parallel_for(shards, [&](int64_t begin, int64_t end, int) {
    for (int64_t s = begin; s < end; ++s) {
      const int64_t b0 = n * s / shards, b1 = n * (s + 1) / shards;
      Worker& w = workers[static_cast<size_t>(s)];
      forward(w, images + b0 * in_size, b1 - b0, true,
              static_cast<uint64_t>(steps) * 64 + static_cast<uint64_t>(s));
      losses[static_cast<size_t>(s)] =
          loss_and_grad(w, labels ? labels + b0 : nullptr,
                        teacher ? teacher + b0 * classes : nullptr, b1 - b0, n);
      backward(w, b1 - b0);
    }
  });
  double loss = 0;
  for (double l : losses) loss += l;
  return loss / static_cast<double>(n);
}

namespace {
std::atomic<int64_t> g_step_budget{int64_t{1} << 30};
}  // namespace

int64_t default_step_budget() { return g_step_budget.load(); }
void set_default_step_budget(int64_t bytes) { g_step_budget.store(bytes); }

int64_t Trainer::step_bytes(int64_t n) const {
  const Impl& m = *impl_;
  double floats = 2.0 * static_cast<double>(per_image(m.shapes.at(m.model->input)));
  double widest = 0;  // one worker's im2col of one image and GEMM output
  for (size_t li : m.order) {
    if (m.fused_away[li]) continue;
    const Layer& l = m.model->layers[li];
    const Shape& is = m.shapes.at(l.inputs[0]);
    const Shape& os = m.shapes.at(l.output);
    const auto out = static_cast<double>(per_image(os));
    floats += 2 * out;  // activation and gradient
    if (l.op == OpKind::kConvolution) {
      const kernels::ConvShape c = conv_shape(l, is, os);
      const auto cols = static_cast<double>(c.k_per_group() * c.out_size());
      floats += cols;
      widest = std::max(widest, cols + out);
    }
    if (l.op == OpKind::kMaxPool) floats += out;                                 // argmax
    if (l.op == OpKind::kDropout) floats += static_cast<double>(per_image(is));  // mask
  }
  const double bytes =
      4 * (floats * static_cast<double>(n) + widest * static_cast<double>(m.workers.size()));
  return bytes > 9e18 ? INT64_MAX : static_cast<int64_t>(bytes);
}

Status Trainer::check_batch(int64_t n) const {
  const int64_t need = step_bytes(n), budget = impl_->o.max_step_bytes;
  SQZ_RETURN_ERROR_IF(need > budget, ErrorCode::kLimit,
                      "a training step on " + std::to_string(n) + " images needs " +
                          std::to_string(need >> 20) + " MiB, more than the limit of " +
                          std::to_string(budget >> 20) +
                          " MiB: use a smaller batch or raise the limit");
  return Status::ok();
}

Result<double> Trainer::step(const float* images, const int* labels, const float* teacher,
                             int64_t n) {
  SQZ_RETURN_IF_ERROR(check_batch(n));
  SQZ_ASSIGN_OR_RETURN(double loss, impl_->run_batch(images, labels, teacher, n));
  impl_->update();
  ++impl_->steps;
  return loss;
}

Result<double> Trainer::gradients(const float* images, const int* labels, const float* teacher,
                                  int64_t n, std::vector<std::vector<float>>* weight_grads,
                                  std::vector<std::vector<float>>* bias_grads) {
  Impl& m = *impl_;
  SQZ_RETURN_IF_ERROR(check_batch(n));
  SQZ_ASSIGN_OR_RETURN(double loss, m.run_batch(images, labels, teacher, n));
  weight_grads->clear();
  bias_grads->clear();
  for (const auto& [li, c] : m.convs) {
    const Layer& l = m.model->layers[li];
    std::vector<float> gw(l.weight.data.size(), 0.0f), gb(l.bias.data.size(), 0.0f);
    for (Worker& w : m.workers) {
      auto it = w.grad_w.find(li);
      if (it == w.grad_w.end()) continue;
      for (size_t k = 0; k < gw.size(); ++k) gw[k] += it->second[k];
      for (size_t k = 0; k < gb.size(); ++k) gb[k] += w.grad_b.at(li)[k];
    }
    weight_grads->push_back(std::move(gw));
    bias_grads->push_back(std::move(gb));
  }
  return loss;
}

Status Trainer::predict(const float* images, int64_t n, std::vector<float>* logits) {
  Impl& m = *impl_;
  const int64_t in_size = per_image(m.shapes.at(m.model->input));
  logits->resize(static_cast<size_t>(n * m.classes));
  const int64_t chunk = 64, chunks = (n + chunk - 1) / chunk;
  m.pool->parallel_for(chunks, [&](int64_t begin, int64_t end, int t) {
    Worker& w = m.workers[static_cast<size_t>(t)];
    for (int64_t c = begin; c < end; ++c) {
      const int64_t b0 = c * chunk, b1 = std::min(n, b0 + chunk);
      m.forward(w, images + b0 * in_size, b1 - b0, false, 0);
      const std::vector<float>& z = w.act.at(m.logits);
      std::copy(z.begin(), z.begin() + (b1 - b0) * m.classes, logits->begin() + b0 * m.classes);
    }
  });
  return Status::ok();
}

int64_t Trainer::classes() const { return impl_->classes; }
int64_t Trainer::steps_taken() const { return impl_->steps; }

}  // namespace sqz::train
