#include "sqz/pipeline/input_moments.h"

#include <algorithm>
#include <cmath>
#include <thread>

#include "sqz/runtime/net.h"

namespace sqz::pipeline {
namespace {

// Evenly spaced output positions, at most `most` of `total`.
std::vector<int64_t> sample_positions(int64_t total, int64_t most) {
  std::vector<int64_t> out;
  const int64_t n = std::min(total, most);
  for (int64_t i = 0; i < n; ++i) out.push_back(i * total / n);
  return out;
}

// h (k x k, lower triangle) += sum over rows of row row^T, rows[count][k]; rows [begin, end) of
// h only, so that threads can share one block.
void add_outer_products(const float* rows, int64_t count, int64_t k, int64_t begin, int64_t end,
                        double* h) {
  std::vector<float> acc(static_cast<size_t>(k));
  for (int64_t i = begin; i < end; ++i) {
    std::fill(acc.begin(), acc.begin() + i + 1, 0.0f);
    for (int64_t p = 0; p < count; ++p) {
      const float* x = rows + p * k;
      const float xi = x[i];
      if (xi == 0.0f) continue;
      for (int64_t j = 0; j <= i; ++j) acc[j] += xi * x[j];
    }
    for (int64_t j = 0; j <= i; ++j) h[i * k + j] += acc[j];
  }
}

// Rows of the lower triangle split so that each thread gets about the same work (row i costs i).
void add_outer_products_threaded(const float* rows, int64_t count, int64_t k, int threads,
                                 double* h) {
  if (threads <= 1 || k < 64) return add_outer_products(rows, count, k, 0, k, h);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    const auto split = [&](int at) {
      return static_cast<int64_t>(std::llround(k * std::sqrt(static_cast<double>(at) / threads)));
    };
    const int64_t begin = split(t), end = split(t + 1);
    pool.emplace_back([=] { add_outer_products(rows, count, k, begin, end, h); });
  }
  for (std::thread& th : pool) th.join();
}

}  // namespace

void receptive_fields(const Layer& layer, const Shape& in, const Shape& out, const float* input,
                      const std::vector<int64_t>& positions, std::vector<float>* fields) {
  const ConvParams& c = layer.conv;
  const int64_t cg = in[0] / c.groups, k = cg * c.kernel_h * c.kernel_w;
  const int64_t np = static_cast<int64_t>(positions.size());
  fields->assign(static_cast<size_t>(c.groups * np * k), 0.0f);
  for (int64_t g = 0; g < c.groups; ++g)
    for (int64_t p = 0; p < np; ++p) {
      const int64_t oy = positions[p] / out[2], ox = positions[p] % out[2];
      float* row = fields->data() + (g * np + p) * k;
      for (int64_t ch = 0; ch < cg; ++ch)
        for (int64_t ky = 0; ky < c.kernel_h; ++ky) {
          const int64_t iy = oy * c.stride_h - c.pad_h + ky;
          if (iy < 0 || iy >= in[1]) continue;
          const float* src = input + ((g * cg + ch) * in[1] + iy) * in[2];
          for (int64_t kx = 0; kx < c.kernel_w; ++kx) {
            const int64_t ix = ox * c.stride_w - c.pad_w + kx;
            if (ix >= 0 && ix < in[2]) row[(ch * c.kernel_h + ky) * c.kernel_w + kx] = src[ix];
          }
        }
    }
}

Result<std::map<std::string, quantize::InputMoment>> collect_input_moments(
    const Model& model, const float* inputs, int64_t n, const MomentOptions& o,
    const std::function<Status(int64_t)>& progress) {
  Model copy = model;
  SQZ_ASSIGN_OR_RETURN(auto shapes, validate_and_infer(copy, 1));
  std::map<std::string, quantize::InputMoment> moments;
  std::map<std::string, const Layer*> convs;
  for (const Layer& l : model.layers) {
    if (l.op != OpKind::kConvolution) continue;
    const Shape& w = l.weight.shape;
    quantize::InputMoment& m = moments[l.name];
    m.k = w[1] * w[2] * w[3];
    m.groups = l.conv.groups;
    m.h.assign(static_cast<size_t>(m.groups * m.k * m.k), 0.0);
    convs[l.name] = &l;
  }
  runtime::NetOptions no;
  no.threads = o.threads;
  no.policy = runtime::KernelPolicy::kDense;
  SQZ_ASSIGN_OR_RETURN(auto net, runtime::Net::create(model, no));
  std::vector<float> fields;
  net->set_conv_input_hook([&](const std::string& name, const float* chw) {
    const Layer& l = *convs.at(name);
    const Shape& in = shapes.at(l.inputs[0]);
    const Shape& out = shapes.at(l.output);
    const Shape in_chw{in[1], in[2], in[3]}, out_chw{out[1], out[2], out[3]};
    const std::vector<int64_t> at = sample_positions(out[2] * out[3], o.max_positions);
    receptive_fields(l, in_chw, out_chw, chw, at, &fields);
    quantize::InputMoment& m = moments.at(name);
    const int64_t np = static_cast<int64_t>(at.size());
    for (int64_t g = 0; g < m.groups; ++g)
      add_outer_products_threaded(fields.data() + g * np * m.k, np, m.k, o.threads,
                                  m.h.data() + g * m.k * m.k);
    m.samples += np;
  });
  const int64_t in_size = shape_numel(net->input_chw());
  std::vector<float> logits;
  constexpr int64_t kBatch = 4;  // one pass over a few images (the hook sees each image)
  for (int64_t i = 0; i < n; i += kBatch) {
    const int64_t count = std::min(kBatch, n - i);
    SQZ_RETURN_IF_ERROR(net->forward(inputs + i * in_size, count, &logits));
    if (progress) SQZ_RETURN_IF_ERROR(progress(i + count));
  }
  for (auto& [name, m] : moments)  // the upper triangle from the lower
    for (int64_t g = 0; g < m.groups; ++g) {
      double* h = m.h.data() + g * m.k * m.k;
      for (int64_t i = 0; i < m.k; ++i)
        for (int64_t j = 0; j < i; ++j) h[j * m.k + i] = h[i * m.k + j];
    }
  return moments;
}

}  // namespace sqz::pipeline
