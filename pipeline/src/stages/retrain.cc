#include "sqz/pipeline/retrain.h"

#include <algorithm>
#include <cstdio>
#include <functional>
#include <numeric>
#include <random>

#include "sqz/pipeline/classify.h"
#include "sqz/runtime/net.h"
#include "sqz/train/trainer.h"

namespace sqz::pipeline {
namespace {

// The teacher's logits for every training image in both forms the batches show it (as is and
// mirrored), each computed the first time a batch needs it: the retraining sees every image
// many times.
class TeacherCache {
 public:
  TeacherCache(const Model& teacher, int64_t images, int64_t pixels, int threads)
      : teacher_(teacher), pixels_(pixels), threads_(threads) {
    known_.assign(static_cast<size_t>(images * 2), 0);
  }

  // x: the batch; ids[i] = 2 x image index + mirrored, for its i-th image.
  Status lookup(const std::vector<float>& x, const std::vector<int64_t>& ids,
                std::vector<float>* out) {
    if (!net_) {  // the teacher only infers: the runtime is faster than the trainer
      runtime::NetOptions no;
      no.threads = threads_;
      SQZ_ASSIGN_OR_RETURN(net_, runtime::Net::create(teacher_, no));
      classes_ = static_cast<size_t>(net_->output_size());
      logits_.resize(known_.size() * classes_);
    }
    std::vector<size_t> missing;
    for (size_t i = 0; i < ids.size(); ++i)
      if (!known_[static_cast<size_t>(ids[i])]) missing.push_back(i);
    if (!missing.empty()) {
      const auto px = static_cast<size_t>(pixels_);
      std::vector<float> in(missing.size() * px), fresh;
      for (size_t j = 0; j < missing.size(); ++j)
        std::copy_n(x.data() + missing[j] * px, px, in.data() + j * px);
      SQZ_RETURN_IF_ERROR(forward_batched(*net_, in.data(), static_cast<int64_t>(missing.size()),
                                          &fresh, batch_for_input(pixels_)));
      for (size_t j = 0; j < missing.size(); ++j) {
        const auto id = static_cast<size_t>(ids[missing[j]]);
        std::copy_n(fresh.data() + j * classes_, classes_, logits_.data() + id * classes_);
        known_[id] = 1;
      }
    }
    out->resize(ids.size() * classes_);
    for (size_t i = 0; i < ids.size(); ++i)
      std::copy_n(logits_.data() + static_cast<size_t>(ids[i]) * classes_, classes_,
                  out->data() + i * classes_);
    return Status::ok();
  }

 private:
  const Model& teacher_;
  int64_t pixels_;
  int threads_;
  size_t classes_ = 0;
  std::unique_ptr<runtime::Net> net_;
  std::vector<float> logits_;
  std::vector<uint8_t> known_;
};

// Copies images order[begin..end) into a batch, each mirrored (flipped along W) with
// probability 1/2 when `mirror`; mirrored[i] = 1 for each mirrored image.
void make_batch(const LabelledTensors& d, const std::vector<int64_t>& order, int64_t begin,
                int64_t end, bool mirror, std::mt19937_64& rng, std::vector<float>* x,
                std::vector<int>* y, std::vector<uint8_t>* mirrored) {
  const int64_t rows = d.chw[0] * d.chw[1], w = d.chw[2], pixels = rows * w;
  x->resize(static_cast<size_t>((end - begin) * pixels));
  y->resize(static_cast<size_t>(end - begin));
  mirrored->resize(static_cast<size_t>(end - begin));
  for (int64_t i = begin; i < end; ++i) {
    const float* src = d.x.data() + order[static_cast<size_t>(i)] * pixels;
    float* dst = x->data() + (i - begin) * pixels;
    const bool flip = mirror && (rng() & 1);
    (*mirrored)[static_cast<size_t>(i - begin)] = flip;
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < w; ++c) dst[r * w + c] = src[r * w + (flip ? w - 1 - c : c)];
    (*y)[static_cast<size_t>(i - begin)] = d.y[static_cast<size_t>(order[static_cast<size_t>(i)])];
  }
}

bool is_pointwise(const Layer& l) { return l.conv.kernel_h * l.conv.kernel_w == 1; }

prune::PruneOptions prune_options(const RetrainOptions& o) {
  prune::PruneOptions po;
  po.criterion = prune::Criterion::kGlobalDensity;
  po.density = o.density > 0 ? o.density : 1.0;
  po.steps = o.prune_steps;
  po.granularity = o.granularity;
  po.layer_density = o.layer_density;
  return po;
}

}  // namespace

struct LabelledRetraining::Impl : prune::RetrainHook {
  Impl(const Model& teacher, const LabelledTensors& d, const RetrainOptions& o, Observer* obs)
      : data(d),
        options(o),
        observer(obs),
        teacher_cache(teacher, d.count(), shape_numel(d.chw), o.threads) {}

  const LabelledTensors& data;
  RetrainOptions options;
  Observer* observer;
  TeacherCache teacher_cache;

  Status retrain(Model& model, int step, int steps, bool /*after_quantization*/) override {
    return run(
        model, options.retrain_steps, false, options.seed * 100 + static_cast<uint64_t>(step),
        options.learning_rate,
        "retraining after pruning step " + std::to_string(step) + "/" + std::to_string(steps));
  }

  // n_steps optimizer steps on `model`; before(i) runs ahead of step i (it may prune: the
  // trainer reads the masks at every step).
  Status run(Model& model, int n_steps, bool centroids, uint64_t seed, double lr,
             const std::string& label, const std::function<Status(int)>& before = {}) {
    const RetrainOptions& o = options;
    train::TrainOptions t;
    t.learning_rate = lr;
    t.threads = o.threads;
    t.seed = seed;
    t.dropout = o.dropout;
    t.train_centroids = centroids;
    t.schedule = train::LrSchedule::kCosine;
    t.total_steps = n_steps;
    t.distill_alpha = o.label_weight;
    t.distill_temperature = o.temperature;
    SQZ_ASSIGN_OR_RETURN(auto trainer, train::Trainer::create(&model, t));
    std::vector<int64_t> order(static_cast<size_t>(data.count()));
    std::iota(order.begin(), order.end(), 0);
    std::mt19937_64 rng(seed);
    std::shuffle(order.begin(), order.end(), rng);
    std::vector<float> x, soft;
    std::vector<int> y;
    std::vector<uint8_t> mirrored;
    std::vector<int64_t> ids;
    const int64_t batch = o.batch;
    const bool distill = o.label_weight < 1;
    double loss = 0;
    Task task(observer, label, n_steps);
    for (int i = 0; i < n_steps; ++i) {
      if (before) SQZ_RETURN_IF_ERROR(before(i));
      const int64_t at = (i * batch) % std::max<int64_t>(1, data.count() - batch);
      make_batch(data, order, at, at + batch, o.mirror, rng, &x, &y, &mirrored);
      if (distill) {
        ids.resize(static_cast<size_t>(batch));
        for (int64_t k = 0; k < batch; ++k)
          ids[static_cast<size_t>(k)] =
              2 * order[static_cast<size_t>(at + k)] + mirrored[static_cast<size_t>(k)];
        SQZ_RETURN_IF_ERROR(teacher_cache.lookup(x, ids, &soft));
      }
      SQZ_ASSIGN_OR_RETURN(
          double l, trainer->step(x.data(), y.data(), distill ? soft.data() : nullptr, batch));
      loss += l;
      SQZ_RETURN_IF_ERROR(task.advance(i + 1));
    }
    if (observer) {
      char line[256];
      std::snprintf(line, sizeof line, "  %s: %d steps, mean loss %.4f", label.c_str(), n_steps,
                    n_steps ? loss / n_steps : 0.0);
      observer->note(line);
    }
    return Status::ok();
  }

  // Gradual pruning (Zhu & Gupta 2017, Sec. 3): one run of prune_steps x retrain_steps steps
  // in which the density falls along the cubic schedule every kPruneEvery steps (fewer in a
  // run too short for that) over the first two thirds; the sparse network then trains on as
  // the learning rate decays.
  Status prune_gradually(Model& m, const prune::PruneOptions& target) {
    constexpr int kPruneEvery = 50;
    const int total = options.prune_steps * options.retrain_steps;
    const int span = total * 2 / 3;
    const int every = std::max(1, std::min(kPruneEvery, span));
    const int events = std::max(1, span / every);
    auto before = [&](int i) -> Status {
      if (span < 1) return i == 0 ? prune::prune_once(m, target).status() : Status::ok();
      if (i % every != 0 || i / every > events) return Status::ok();
      const int k = i / every;
      prune::PruneOptions o = target;
      o.density = prune::scheduled_density(1.0, target.density, k, events, target.schedule);
      for (auto& [name, d] : o.layer_density)
        d = prune::scheduled_density(1.0, target.layer_density.at(name), k, events,
                                     target.schedule);
      return prune::prune_once(m, o).status();
    };
    return run(m, total, false, options.seed * 100, options.learning_rate, "gradual pruning",
               before);
  }

  // Quantizes every convolution whose kind (1x1 or not) is `pointwise` and not yet quantized.
  Status quantize_some(Model& m, bool pointwise) {
    const quantize::QuantizeOptions& qo = options.quantize;
    for (Layer& l : m.layers) {
      if (l.op != OpKind::kConvolution || l.quant.active() || is_pointwise(l) != pointwise)
        continue;
      const auto bits = qo.layer_bits.find(l.name);
      SQZ_RETURN_IF_ERROR(
          quantize::quantize_layer(l, bits == qo.layer_bits.end() ? qo.bits : bits->second, qo)
              .status());
    }
    return Status::ok();
  }
};

Result<int64_t> check_training_batch(const Model& model, int64_t batch, int threads) {
  Model copy = model;
  train::TrainOptions t;
  t.threads = threads;
  SQZ_ASSIGN_OR_RETURN(auto trainer, train::Trainer::create(&copy, t));
  SQZ_RETURN_IF_ERROR(trainer->check_batch(batch));
  return trainer->classes();
}

Status check_retrain(const Model& teacher, const LabelledTensors& d, const RetrainOptions& o) {
  SQZ_RETURN_ERROR_IF(d.chw.size() != 3 || d.count() < 1 ||
                          d.x.size() != static_cast<size_t>(d.count() * shape_numel(d.chw)),
                      ErrorCode::kInvalidArgument,
                      "training tensors: " + std::to_string(d.x.size()) + " floats for " +
                          std::to_string(d.count()) + " images of " + shape_to_string(d.chw));
  const Shape& in = teacher.input_shape;
  SQZ_RETURN_ERROR_IF(in.size() != 4 || (Shape{in[1], in[2], in[3]} != d.chw),
                      ErrorCode::kShapeMismatch,
                      "training images are " + shape_to_string(d.chw) + ", the model's input is " +
                          shape_to_string(in));
  SQZ_RETURN_ERROR_IF(o.batch < 1 || o.batch > d.count(), ErrorCode::kInvalidArgument,
                      "the batch (" + std::to_string(o.batch) + ") must be in 1.." +
                          std::to_string(d.count()) + " (the training images)");
  SQZ_RETURN_ERROR_IF(o.prune_steps < 1 || o.retrain_steps < 0 || o.finetune_steps < 0,
                      ErrorCode::kInvalidArgument, "retraining step counts must be >= 0");
  SQZ_RETURN_ERROR_IF(!(o.label_weight >= 0 && o.label_weight <= 1) || !(o.temperature > 0) ||
                          !(o.dropout >= 0 && o.dropout < 1) || !(o.learning_rate > 0) ||
                          !(o.finetune_lr > 0),
                      ErrorCode::kInvalidArgument,
                      "retraining: label weight in [0, 1], temperature and rates > 0, dropout "
                      "in [0, 1)");
  SQZ_ASSIGN_OR_RETURN(int64_t classes, check_training_batch(teacher, o.batch, o.threads));
  for (size_t i = 0; i < d.y.size(); ++i)
    SQZ_RETURN_ERROR_IF(d.y[i] < 0 || d.y[i] >= classes, ErrorCode::kInvalidArgument,
                        "training image " + std::to_string(i) + " has label " +
                            std::to_string(d.y[i]) + ", outside the model's " +
                            std::to_string(classes) + " classes (0.." +
                            std::to_string(classes - 1) + ")");
  if (o.density > 0 || !o.layer_density.empty())
    SQZ_RETURN_IF_ERROR(prune::check_options(teacher, prune_options(o)));
  return quantize::check_options(teacher, o.quantize);
}

Result<LabelledTensors> load_labelled_tensors(const LabelledFiles& list,
                                              const image::Preprocess& pre, int64_t max_bytes,
                                              Observer* observer) {
  LabelledTensors out;
  out.chw = {pre.channels, pre.crop_h, pre.crop_w};
  const int64_t per_image = shape_numel(out.chw);
  const auto bytes = static_cast<double>(per_image) * 4 * static_cast<double>(list.size());
  SQZ_RETURN_ERROR_IF(bytes > static_cast<double>(max_bytes), ErrorCode::kLimit,
                      std::to_string(list.size()) + " training images of " +
                          shape_to_string(out.chw) + " would take " +
                          std::to_string(static_cast<int64_t>(bytes / (1 << 20))) +
                          " MiB, above the limit of " + std::to_string(max_bytes >> 20) + " MiB");
  out.x.reserve(static_cast<size_t>(per_image) * list.size());
  Task task(observer, "decoding training images", static_cast<int64_t>(list.size()));
  for (size_t i = 0; i < list.size(); ++i) {
    SQZ_ASSIGN_OR_RETURN(std::vector<float> x, load_input(list.files[i], pre));
    out.x.insert(out.x.end(), x.begin(), x.end());
    out.y.push_back(list.labels[i]);
    SQZ_RETURN_IF_ERROR(task.advance(static_cast<int64_t>(i + 1)));
  }
  return out;
}

Result<Accuracy> evaluate_tensors(const Model& model, const LabelledTensors& d, int threads) {
  runtime::NetOptions o;
  o.threads = threads;
  SQZ_ASSIGN_OR_RETURN(auto net, runtime::Net::create(model, o));
  const int64_t pixels = shape_numel(d.chw), batch = batch_for_input(pixels);
  const int n = static_cast<int>(net->output_size());
  Accuracy a;
  int64_t top1 = 0, top5 = 0;
  std::vector<float> out;
  for (int64_t b = 0; b < d.count(); b += batch) {
    const int64_t count = std::min(batch, d.count() - b);
    SQZ_RETURN_IF_ERROR(net->forward(d.x.data() + b * pixels, count, &out));
    for (int64_t i = 0; i < count; ++i) {
      const std::vector<int> best = top_k(out.data() + i * n, n, 5);
      const int label = d.y[static_cast<size_t>(b + i)];
      top1 += best[0] == label;
      top5 += std::find(best.begin(), best.end(), label) != best.end();
    }
  }
  a.images = a.labelled = d.count();
  if (a.images)
    a.top1 = static_cast<double>(top1) / a.images, a.top5 = static_cast<double>(top5) / a.images;
  return a;
}

LabelledRetraining::LabelledRetraining(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
LabelledRetraining::~LabelledRetraining() = default;

Result<std::unique_ptr<LabelledRetraining>> LabelledRetraining::create(
    const Model& teacher, const LabelledTensors& data, const RetrainOptions& options,
    Observer* observer) {
  SQZ_RETURN_IF_ERROR(check_retrain(teacher, data, options));
  return std::unique_ptr<LabelledRetraining>(
      new LabelledRetraining(std::make_unique<Impl>(teacher, data, options, observer)));
}

Status LabelledRetraining::prune(Model& m) {
  const RetrainOptions& o = impl_->options;
  if (o.density <= 0 && o.layer_density.empty()) return Status::ok();
  const prune::PruneOptions po = prune_options(o);
  if (o.gradual) return impl_->prune_gradually(m, po);
  return prune::prune_iteratively(m, po, impl_.get()).status();
}

Status LabelledRetraining::share_weights(Model& m, const std::map<std::string, int>& widths) {
  for (const auto& [name, centroids] : widths)
    quantize::set_layer_width(impl_->options.quantize, name, centroids);
  const RetrainOptions& o = impl_->options;
  if (o.pointwise_first) {
    // Weight sharing in two phases, in the spirit of incremental quantization (Zhou et al.
    // 2017, INQ, Sec. 2: quantize part of the weights, retrain the rest, repeat), partitioned
    // by layer: the 1x1 layers, which lose the most to narrow codes, first, while the k x k
    // layers retrain around them; then the k x k layers too.
    SQZ_RETURN_IF_ERROR(impl_->quantize_some(m, true));
    SQZ_RETURN_IF_ERROR(impl_->run(m, o.finetune_steps / 2, true, o.seed * 1000 + 1,
                                   o.learning_rate / 2,
                                   "1x1 layers quantized, retraining the others"));
    SQZ_RETURN_IF_ERROR(impl_->quantize_some(m, false));
  } else {
    SQZ_RETURN_IF_ERROR(quantize::quantize_model(m, o.quantize).status());
  }
  return impl_->run(m, o.finetune_steps, true, o.seed * 1000, o.finetune_lr,
                    "centroid fine-tuning");
}

}  // namespace sqz::pipeline
