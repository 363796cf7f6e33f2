#include "sqz/pipeline/block_reconstruction.h"

#include <algorithm>
#include <random>

#include "sqz/train/trainer.h"

namespace sqz::pipeline {
namespace {

bool joins_branches(OpKind op) {
  return op == OpKind::kConcat || op == OpKind::kAdd || op == OpKind::kMaxPool ||
         op == OpKind::kAvgPool;
}

// Layers [begin, end) of m as a network of their own, from the blob live before `begin`.
Model block_of(const Model& m, int64_t begin, int64_t end, const PairedActivations& acts) {
  Model b;
  b.name = m.name;
  b.input = acts.blob_at(begin);
  const Shape chw = acts.chw_at(begin);
  b.input_shape = Shape{1};
  b.input_shape.insert(b.input_shape.end(), chw.begin(), chw.end());
  b.layers.assign(m.layers.begin() + begin, m.layers.begin() + end);
  b.output = end >= static_cast<int64_t>(m.layers.size()) ? m.output : acts.blob_at(end);
  return b;
}

// The images to keep so that both networks' activations at two successive block inputs fit.
int64_t images_that_fit(const PairedActivations& acts,
                        const std::vector<std::pair<int64_t, int64_t>>& blocks,
                        const BlockOptions& o) {
  int64_t widest = 0, before = 0;  // floats an image needs at the kept cut and the next
  for (const auto& [begin, end] : blocks) {
    const int64_t here = begin == 0 ? 0 : shape_numel(acts.chw_at(begin));
    widest = std::max(widest, before + here);
    before = here;
  }
  const int64_t per_image = 2 * (o.mirror ? 2 : 1) * widest * int64_t{sizeof(float)};
  return per_image == 0 ? o.images : std::min(o.images, o.max_activation_bytes / per_image);
}

double mean_squared(const std::vector<float>& a, const std::vector<float>& b) {
  double sum = 0;
  for (size_t k = 0; k < a.size(); ++k) {
    const double d = static_cast<double>(a[k]) - b[k];
    sum += d * d;
  }
  return a.empty() ? 0.0 : sum / static_cast<double>(a.size());
}

struct BlockTuner {
  PairedActivations& acts;
  const BlockOptions& o;
  std::mt19937_64 rng;

  // The student's output error on `items` against the teacher's.
  Result<double> error(train::Trainer& student, train::Trainer& teacher,
                       const std::vector<int64_t>& items) {
    std::vector<float> own, ref, target, out;
    SQZ_RETURN_IF_ERROR(acts.gather(items, &own, &ref));
    const auto n = static_cast<int64_t>(items.size());
    SQZ_RETURN_IF_ERROR(teacher.predict(ref.data(), n, &target));
    SQZ_RETURN_IF_ERROR(student.predict(own.data(), n, &out));
    return mean_squared(out, target);
  }

  Status tune(Model& model, int64_t begin, int64_t end, BlockResult* r) {
    Model own = block_of(model, begin, end, acts), ref = block_of(acts.graph(), begin, end, acts);
    train::TrainOptions to;
    to.learning_rate = o.learning_rate;
    to.schedule = train::LrSchedule::kCosine;
    to.total_steps = o.steps;
    to.dropout = 0;
    to.threads = o.threads;
    to.seed = o.seed;
    to.train_centroids = true;
    to.loss = train::Loss::kMatchOutput;
    r->first = own.layers.front().name;
    r->last = own.layers.back().name;
    auto student = train::Trainer::create(&own, to);
    auto teacher = train::Trainer::create(&ref, to);
    for (const auto* t : {&student, &teacher}) {
      if (t->is_ok()) continue;
      if (t->status().code() != ErrorCode::kUnsupported) return t->status();
      r->skipped = t->status().message();  // an op the training engine lacks: left as it is
      return Status::ok();
    }
    return tune_with(**student, **teacher, model, begin, own, r);
  }

  Status tune_with(train::Trainer& student, train::Trainer& teacher, Model& model, int64_t begin,
                   const Model& own, BlockResult* r) {
    const int64_t items = acts.items(), checked = std::min<int64_t>(items, 32);
    std::vector<int64_t> check;
    for (int64_t k = 0; k < checked; ++k) check.push_back(k * items / checked);
    SQZ_ASSIGN_OR_RETURN(r->error_before, error(student, teacher, check));
    std::uniform_int_distribution<int64_t> pick(0, items - 1);
    std::vector<int64_t> batch(static_cast<size_t>(o.batch));
    std::vector<float> in, ref_in, target;
    for (int step = 0; step < o.steps; ++step) {
      for (int64_t& item : batch) item = pick(rng);
      SQZ_RETURN_IF_ERROR(acts.gather(batch, &in, &ref_in));
      SQZ_RETURN_IF_ERROR(teacher.predict(ref_in.data(), o.batch, &target));
      SQZ_RETURN_IF_ERROR(student.step(in.data(), nullptr, target.data(), o.batch).status());
    }
    SQZ_ASSIGN_OR_RETURN(r->error_after, error(student, teacher, check));
    r->kept = r->error_after < r->error_before;
    if (r->kept) std::copy(own.layers.begin(), own.layers.end(), model.layers.begin() + begin);
    return Status::ok();
  }
};

}  // namespace

std::vector<std::pair<int64_t, int64_t>> reconstruction_blocks(const Model& model) {
  std::vector<std::pair<int64_t, int64_t>> out;
  const auto count = static_cast<int64_t>(model.layers.size());
  const std::vector<std::string> live = single_live_blobs(model);
  int64_t begin = 0;
  for (int64_t cut = 1; cut <= count; ++cut) {
    const Layer& last = model.layers[static_cast<size_t>(cut - 1)];
    if (cut < count && !(joins_branches(last.op) && live[static_cast<size_t>(cut)] == last.output))
      continue;
    bool quantized = false;
    for (int64_t i = begin; i < cut; ++i)
      quantized |= model.layers[i].op == OpKind::kConvolution && model.layers[i].quant.active();
    if (quantized) out.emplace_back(begin, cut);
    begin = cut;
  }
  return out;
}

Result<std::vector<BlockResult>> reconstruct_blocks(
    Model& model, const Model& reference, const float* images, int64_t n,
    const BlockOptions& o, const std::function<Status(int, int)>& progress) {
  SQZ_RETURN_ERROR_IF(o.steps < 0 || o.batch < 1 || !(o.learning_rate > 0) || o.images < 1,
                      ErrorCode::kInvalidArgument,
                      "block reconstruction needs steps >= 0, a batch and images >= 1 and a "
                      "positive learning rate");
  SQZ_RETURN_ERROR_IF(!images || n < 1, ErrorCode::kInvalidArgument,
                      "block reconstruction needs images");
  std::vector<BlockResult> results;
  const std::vector<std::pair<int64_t, int64_t>> blocks = reconstruction_blocks(model);
  if (o.steps == 0 || blocks.empty()) return results;
  MomentOptions mo;
  mo.mirror = o.mirror;
  mo.threads = o.threads;
  const PairedActivations sizes(reference, images, 1, mo, o.max_activation_bytes);
  SQZ_RETURN_IF_ERROR(sizes.status());
  const int64_t kept = std::min(n, images_that_fit(sizes, blocks, o));
  SQZ_RETURN_ERROR_IF(kept * (o.mirror ? 2 : 1) < o.batch, ErrorCode::kLimit,
                      "block reconstruction: the activations of a batch need more than " +
                          std::to_string(o.max_activation_bytes >> 20) + " MiB");
  PairedActivations acts(reference, images, kept, mo, o.max_activation_bytes);
  BlockTuner tuner{acts, o, std::mt19937_64(o.seed)};
  for (const auto& [begin, end] : blocks) {
    SQZ_RETURN_IF_ERROR(acts.advance(model, begin));
    results.emplace_back();
    SQZ_RETURN_IF_ERROR(tuner.tune(model, begin, end, &results.back()));
    if (progress)
      SQZ_RETURN_IF_ERROR(progress(static_cast<int>(results.size()), static_cast<int>(blocks.size())));
  }
  return results;
}

}  // namespace sqz::pipeline
