#include "sqz/train/trainer.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <map>

#include "sqz/kernels/denormals.h"
#include "sqz/kernels/im2col.h"
#include "trainer_impl.h"

namespace sqz::train {

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
  SQZ_RETURN_ERROR_IF(o.loss == Loss::kClassify &&
                          (shape_numel(shapes.at(logits)) != classes || classes < 2),
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

double Trainer::Impl::lr() const {
  if (o.schedule == LrSchedule::kCosine && o.total_steps > 0)
    return o.learning_rate * 0.5 *
           (1 + std::cos(M_PI * std::min<double>(steps, o.total_steps) / o.total_steps));
  return o.learning_rate;
}

void Trainer::Impl::update() {
  const double rate = lr();
  const double t = static_cast<double>(steps + 1);
  // Adam's bias corrections, once per step (the same doubles as per weight).
  const double unbias1 = 1 - std::pow(o.beta1, t), unbias2 = 1 - std::pow(o.beta2, t);
  auto apply = [&](Param& p, float* values, size_t count, double decay) {
    for (size_t k = 0; k < count; ++k) {
      const double g = p.grad[k] + decay * values[k];
      double delta;
      if (o.optimizer == Optimizer::kAdam) {
        p.m[k] = static_cast<float>(o.beta1 * p.m[k] + (1 - o.beta1) * g);
        p.v[k] = static_cast<float>(o.beta2 * p.v[k] + (1 - o.beta2) * g * g);
        const double mh = p.m[k] / unbias1, vh = p.v[k] / unbias2;
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
  SQZ_RETURN_IF_ERROR(check_float_weights(*model));
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
  const bool match = o.loss == Loss::kMatchOutput;
  SQZ_RETURN_ERROR_IF(!match && o.distill_alpha > 0 && !labels, ErrorCode::kInvalidArgument,
                      "labels needed");
  SQZ_RETURN_ERROR_IF((match || o.distill_alpha < 1) && !teacher, ErrorCode::kInvalidArgument,
                      match ? "target outputs needed" : "teacher logits needed");
  if (labels && !match)
    for (int64_t b = 0; b < n; ++b)
      SQZ_RETURN_ERROR_IF(
          labels[b] < 0 || labels[b] >= classes, ErrorCode::kInvalidArgument,
          "label " + std::to_string(labels[b]) + " is outside 0.." + std::to_string(classes - 1));
  const int64_t shards = std::min<int64_t>(static_cast<int64_t>(workers.size()), n);
  const int64_t in_size = per_image(shapes.at(model->input));
  std::vector<double> losses(static_cast<size_t>(shards), 0.0);
  for (Worker& w : workers) w.grad_w.clear(), w.grad_b.clear();
  pool->parallel_for(shards, [&](int64_t begin, int64_t end, int) {
    const kernels::DenormalsAsZero flush;  // each worker's own MXCSR
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
      if (!kernels::conv_reads_input_directly(c)) floats += cols;  // else its input
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
  const kernels::DenormalsAsZero flush;  // the update's arithmetic, on this thread
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
  const kernels::DenormalsAsZero flush;  // the workers' gradients summed on this thread
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
    const kernels::DenormalsAsZero flush;
    Worker& w = m.workers[static_cast<size_t>(t)];
    for (int64_t c = begin; c < end; ++c) {
      const int64_t b0 = c * chunk, b1 = std::min(n, b0 + chunk);
      m.forward(w, images + b0 * in_size, b1 - b0, false, 0);
      const int64_t ch = channels(m.shapes.at(m.logits));
      to_image_major(w.act.at(m.logits).data(), b1 - b0, ch, m.classes / ch,
                     logits->data() + b0 * m.classes);
    }
  });
  return Status::ok();
}

int64_t Trainer::classes() const { return impl_->classes; }
int64_t Trainer::steps_taken() const { return impl_->steps; }

}  // namespace sqz::train
