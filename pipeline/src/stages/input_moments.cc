#include "sqz/pipeline/input_moments.h"

#include "paired_moments.h"

#include <algorithm>
#include <cmath>
#include <thread>

#include "sqz/kernels/sgemm.h"
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

// Runs `run` over the n inputs (CHW each) a few at a time (the hooks see each image); with
// `mirror`, each chunk again reversed along its width. progress(images done) after each chunk.
Status for_each_chunk(const float* inputs, int64_t n, const Shape& chw, bool mirror,
                      const std::function<Status(int64_t)>& progress,
                      const std::function<Status(const float*, int64_t)>& run) {
  constexpr int64_t kBatch = detail::kMomentBatch;
  const int64_t in_size = shape_numel(chw);
  std::vector<float> mirrored;
  for (int64_t i = 0; i < n; i += kBatch) {
    const int64_t count = std::min(kBatch, n - i);
    const float* chunk = inputs + i * in_size;
    SQZ_RETURN_IF_ERROR(run(chunk, count));
    if (mirror) SQZ_RETURN_IF_ERROR(run(detail::mirror_images(chunk, count, chw, &mirrored), count));
    if (progress) SQZ_RETURN_IF_ERROR(progress(i + count));
  }
  return Status::ok();
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

bool gets_moments(const Layer& l, const MomentOptions& o) {
  const Shape& w = l.weight.shape;
  return l.op == OpKind::kConvolution && w.size() == 4 && w[1] * w[2] * w[3] <= o.max_fan_in;
}

Result<std::map<std::string, quantize::InputMoment>> collect_input_moments(
    const Model& model, const float* inputs, int64_t n, const MomentOptions& o,
    const std::function<Status(int64_t)>& progress) {
  Model copy = model;
  SQZ_ASSIGN_OR_RETURN(auto shapes, validate_and_infer(copy, 1));
  std::map<std::string, quantize::InputMoment> moments;
  std::map<std::string, const Layer*> convs;
  for (const Layer& l : model.layers) {
    if (!gets_moments(l, o)) continue;
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
    if (!convs.count(name)) return;
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
  std::vector<float> logits;
  SQZ_RETURN_IF_ERROR(for_each_chunk(
      inputs, n, net->input_chw(), o.mirror, progress,
      [&](const float* chunk, int64_t count) { return net->forward(chunk, count, &logits); }));
  for (auto& [name, m] : moments)  // the upper triangle from the lower
    for (int64_t g = 0; g < m.groups; ++g) {
      double* h = m.h.data() + g * m.k * m.k;
      for (int64_t i = 0; i < m.k; ++i)
        for (int64_t j = 0; j < i; ++j) h[j * m.k + i] = h[i * m.k + j];
    }
  return moments;
}

}  // namespace sqz::pipeline

namespace sqz::pipeline {
namespace {

// Fields of one image, per layer: the reference network's, kept until the same image passes
// the network being compressed.
struct PairState {
  const Layer* layer = nullptr;
  Shape in_chw, out_chw;
  std::vector<int64_t> positions;
  std::vector<std::vector<float>> reference_fields;  // one per image of the batch
  size_t next = 0;                                   // image of the batch the own hook is at
};

// dst (k x k doubles) += a^T b, a and b: rows x k floats (one field per row).
void add_products(const float* a, const float* b, int64_t rows, int64_t k,
                  std::vector<float>* scratch, std::vector<float>* product, double* dst) {
  product->resize(static_cast<size_t>(k * k));
  kernels::sgemm(k, k, rows, {a, k, true}, {b, k}, product->data(), k, scratch);
  for (int64_t i = 0; i < k * k; ++i) dst[i] += (*product)[static_cast<size_t>(i)];
}

Status check_pair_shapes(const std::map<std::string, Shape>& own_shapes,
                         const std::map<std::string, Shape>& ref_shapes, const Layer& l,
                         const Layer* r) {
  const bool same = r && r->op == OpKind::kConvolution &&
                    r->weight.shape == l.weight.shape && r->conv.groups == l.conv.groups &&
                    ref_shapes.count(r->inputs[0]) &&
                    ref_shapes.at(r->inputs[0]) == own_shapes.at(l.inputs[0]);
  SQZ_RETURN_ERROR_IF(!same, ErrorCode::kInvalidArgument,
                      "layer '" + l.name + "' does not match the reference network's");
  return Status::ok();
}

// The sampling plan of one layer and its zeroed sums.
void start_pair(const Layer& l, const std::map<std::string, Shape>& shapes, int64_t max_positions,
                PairState* s, PairedMoments* out) {
  const Shape& in = shapes.at(l.inputs[0]);
  const Shape& o_shape = shapes.at(l.output);
  s->layer = &l;
  s->in_chw = {in[1], in[2], in[3]};
  s->out_chw = {o_shape[1], o_shape[2], o_shape[3]};
  s->positions = sample_positions(o_shape[2] * o_shape[3], max_positions);
  const int64_t k = l.weight.shape[1] * l.weight.shape[2] * l.weight.shape[3];
  const int64_t g = l.conv.groups;
  quantize::InputMoment& m = out->own[l.name];
  m.k = k, m.groups = g;
  m.h.assign(static_cast<size_t>(g * k * k), 0.0);
  quantize::CrossMoment& c = out->cross[l.name];
  c.k = k, c.groups = g;
  c.cross.assign(m.h.size(), 0.0);
  c.sum.assign(static_cast<size_t>(g * k), 0.0);
  c.reference_sum.assign(c.sum.size(), 0.0);
}

}  // namespace

namespace detail {

const float* mirror_images(const float* images, int64_t count, const Shape& chw,
                           std::vector<float>* out) {
  const int64_t size = count * shape_numel(chw), width = chw[2];
  out->assign(images, images + size);
  for (int64_t row = 0; row < size / width; ++row)
    std::reverse(out->begin() + row * width, out->begin() + (row + 1) * width);
  return out->data();
}

namespace {

// The model up to the last of `layers` (graph order), its output there.
Model cut_after(const Model& m, const std::set<std::string>& layers) {
  Model out = m;
  size_t last = 0;
  for (size_t i = 0; i < m.layers.size(); ++i)
    if (layers.count(m.layers[i].name)) last = i;
  out.layers.resize(last + 1);
  out.output = out.layers.back().output;
  return out;
}

// Adds one image's receptive fields of both networks at a layer, x (own) and xr (reference),
// each groups x positions x k floats, to H = sum x x^T, C = sum x xr^T and their sums.
void add_paired_fields(const float* fields, const float* ref, int64_t np, quantize::InputMoment* m,
                       quantize::CrossMoment* c, std::vector<float>* scratch,
                       std::vector<float>* product) {
  const int64_t k = m->k;
  for (int64_t g = 0; g < m->groups; ++g) {
    const float* x = fields + g * np * k;
    const float* xr = ref + g * np * k;
    add_products(x, x, np, k, scratch, product, m->h.data() + g * k * k);
    add_products(x, xr, np, k, scratch, product, c->cross.data() + g * k * k);
    for (int64_t p = 0; p < np; ++p)
      for (int64_t j = 0; j < k; ++j) {
        c->sum[g * k + j] += x[p * k + j];
        c->reference_sum[g * k + j] += xr[p * k + j];
      }
  }
  m->samples += np;
  c->samples += np;
}

}  // namespace

Result<PairedMoments> collect_paired(const Model& model, const Model& reference,
                                     const std::set<std::string>& layers, const MomentOptions& o,
                                     const PairedSource& source) {
  Model own_copy = model, ref_copy = reference;
  SQZ_ASSIGN_OR_RETURN(auto own_shapes, validate_and_infer(own_copy, 1));
  SQZ_ASSIGN_OR_RETURN(auto ref_shapes, validate_and_infer(ref_copy, 1));
  PairedMoments out;
  std::map<std::string, PairState> states;
  for (const std::string& name : layers) {
    const Layer* l = model.find_layer(name);
    SQZ_RETURN_ERROR_IF(!l || l->op != OpKind::kConvolution, ErrorCode::kNotFound,
                        "no convolution named '" + name + "' in the model");
    SQZ_RETURN_IF_ERROR(check_pair_shapes(own_shapes, ref_shapes, *l, reference.find_layer(name)));
    if (!gets_moments(*l, o)) continue;
    start_pair(*l, own_shapes, o.max_positions, &states[name], &out);
  }
  runtime::NetOptions no;
  no.threads = o.threads;
  no.policy = runtime::KernelPolicy::kDense;
  // Both networks run as far as the last of the layers only.
  SQZ_ASSIGN_OR_RETURN(auto own_net, runtime::Net::create(cut_after(model, layers), no));
  SQZ_ASSIGN_OR_RETURN(auto ref_net, runtime::Net::create(cut_after(reference, layers), no));
  ref_net->set_conv_input_hook([&](const std::string& name, const float* chw) {
    auto it = states.find(name);
    if (it == states.end()) return;
    PairState& s = it->second;
    s.reference_fields.emplace_back();
    receptive_fields(*s.layer, s.in_chw, s.out_chw, chw, s.positions, &s.reference_fields.back());
  });
  std::vector<float> fields, scratch, product;
  own_net->set_conv_input_hook([&](const std::string& name, const float* chw) {
    auto it = states.find(name);
    if (it == states.end()) return;
    PairState& s = it->second;
    receptive_fields(*s.layer, s.in_chw, s.out_chw, chw, s.positions, &fields);
    add_paired_fields(fields.data(), s.reference_fields[s.next++].data(),
                      static_cast<int64_t>(s.positions.size()), &out.own.at(name),
                      &out.cross.at(name), &scratch, &product);
  });
  std::vector<float> logits;
  SQZ_RETURN_IF_ERROR(source([&](const float* own, const float* ref, int64_t count) {
    for (auto& [name, s] : states) s.reference_fields.clear(), s.next = 0;
    SQZ_RETURN_IF_ERROR(ref_net->forward(ref, count, &logits));
    return own_net->forward(own, count, &logits);
  }));
  return out;
}

}  // namespace detail

Result<PairedMoments> collect_paired_moments(const Model& model, const Model& reference,
                                             const std::set<std::string>& layers,
                                             const float* inputs, int64_t n,
                                             const MomentOptions& o,
                                             const std::function<Status(int64_t)>& progress) {
  Model copy = model;
  SQZ_RETURN_IF_ERROR(validate_and_infer(copy, 1).status());
  const Shape chw{copy.input_shape[1], copy.input_shape[2], copy.input_shape[3]};
  return detail::collect_paired(model, reference, layers, o, [&](const detail::PairedRun& run) {
    return for_each_chunk(inputs, n, chw, o.mirror, progress,
                          [&](const float* chunk, int64_t count) { return run(chunk, chunk, count); });
  });
}

}  // namespace sqz::pipeline
