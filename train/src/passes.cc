// The passes over a shard: forward through every op, the loss and its gradient at the logits,
// backward through every op (each op's own code is in ops/).
#include <algorithm>
#include <cmath>
#include <set>

#include "trainer_impl.h"

namespace sqz::train {

void Trainer::Impl::forward(Worker& w, const float* x, int64_t n, bool training, uint64_t rng_key) {
  const Shape& in_shape = shapes.at(model->input);
  std::vector<float>& input = w.act[model->input];
  input.resize(static_cast<size_t>(n * per_image(in_shape)));
  const int64_t in_c = channels(in_shape);
  to_channel_major(x, n, in_c, per_image(in_shape) / in_c, input.data());
  for (size_t li : order) {
    if (fused_away[li]) continue;
    const Layer& l = model->layers[li];
    const std::vector<float>& in = w.act.at(l.inputs[0]);
    std::vector<float>& out = w.act[output_of(li)];
    const OpPass op{l, li, shapes.at(l.inputs[0]), shapes.at(l.output), n, w, shapes, model->input};
    out.resize(static_cast<size_t>(n * per_image(op.os)));  // every op below writes all of it
    switch (l.op) {
      case OpKind::kConvolution:
        conv_forward(op, in, out, fused_relu.count(li) > 0);
        break;
      case OpKind::kRelu:
        relu_forward(in, out);
        break;
      case OpKind::kDropout:
        dropout_forward(op, in, out, training ? o.dropout : 0.0,
                        o.seed * 1000003 + rng_key * 131 + li);
        break;
      case OpKind::kFlatten:
        flatten_forward(op, in, out);
        break;
      case OpKind::kMaxPool:
        max_pool_forward(op, in, out);
        break;
      case OpKind::kAvgPool:
        avg_pool_forward(op, in, out);
        break;
      case OpKind::kAdd:
        add_forward(op, in, out);
        break;
      case OpKind::kConcat:
        concat_forward(op, out);
        break;
      case OpKind::kSoftmax:
        softmax_forward(op, in, out);
        break;
    }
  }
}

double Trainer::Impl::loss_and_grad(Worker& w, const int* labels, const float* teacher, int64_t n,
                                    int64_t total) {
  // The logits image by image ([n][classes]), as the labels and the teacher's are.
  const int64_t c = channels(shapes.at(logits)), hw = classes / c;
  std::vector<float> z(static_cast<size_t>(n * classes)), dz(z.size(), 0.0f);
  to_image_major(w.act.at(logits).data(), n, c, hw, z.data());
  const double loss = o.loss == Loss::kMatchOutput
                          ? match_loss(z.data(), teacher, dz.data(), n, total)
                          : label_loss(z.data(), labels, teacher, dz.data(), n, total);
  std::vector<float>& grad = w.grad[logits];
  grad.resize(dz.size());
  to_channel_major(dz.data(), n, c, hw, grad.data());
  return loss;
}

// The sum over images of each one's mean squared error.
double Trainer::Impl::match_loss(const float* z, const float* teacher, float* dz, int64_t n,
                                 int64_t total) const {
  const double scale = 1.0 / static_cast<double>(classes);
  double loss = 0;
  for (int64_t k = 0; k < n * classes; ++k) {
    const double d = static_cast<double>(z[k]) - teacher[k];
    loss += d * d * scale;
    dz[k] = static_cast<float>(2 * d * scale / static_cast<double>(total));
  }
  return loss;
}

// Cross-entropy on the labels (weight alpha) plus distillation from the teacher's logits at
// temperature t (weight 1 - alpha).
double Trainer::Impl::label_loss(const float* z, const int* labels, const float* teacher,
                                 float* dz, int64_t n, int64_t total) const {
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
    const float* zb = z + b * classes;
    float* db = dz + b * classes;
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
  // Blobs whose gradient this pass has written (the logits' by loss_and_grad); the others'
  // vectors hold an earlier step's values.
  std::set<std::string> written = {logits};
  const GradOf grad_of = [&](const std::string& blob) -> GradOut {
    std::vector<float>& g = w.grad[blob];
    g.resize(static_cast<size_t>(n * per_image(shapes.at(blob))));
    return {g, written.insert(blob).second};
  };
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    const size_t li = *it;
    if (fused_away[li]) continue;
    const Layer& l = model->layers[li];
    if (!written.count(output_of(li))) continue;  // nothing downstream needs this layer
    const std::vector<float>& dy = w.grad.at(output_of(li));
    const OpPass op{l, li, shapes.at(l.inputs[0]), shapes.at(l.output), n, w, shapes, model->input};
    switch (l.op) {
      case OpKind::kConvolution: {
        const float* relu_out = fused_relu.count(li) ? w.act.at(output_of(li)).data() : nullptr;
        conv_backward(op, dy, relu_out, grad_of);
        break;
      }
      case OpKind::kRelu:
        relu_backward(op, dy, grad_of);
        break;
      case OpKind::kDropout:
        dropout_backward(op, dy, grad_of);
        break;
      case OpKind::kFlatten:
        flatten_backward(op, dy, grad_of);
        break;
      case OpKind::kMaxPool:
        max_pool_backward(op, dy, grad_of);
        break;
      case OpKind::kAvgPool:
        avg_pool_backward(op, dy, grad_of);
        break;
      case OpKind::kAdd:
        add_backward(op, dy, grad_of);
        break;
      case OpKind::kConcat:
        concat_backward(op, dy, grad_of);
        break;
      case OpKind::kSoftmax:
        softmax_backward(op, dy, grad_of);
        break;
    }
  }
}

}  // namespace sqz::train
