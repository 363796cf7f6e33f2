#include "sqz/pipeline/calibrate.h"

#include <algorithm>
#include <memory>
#include <random>

#include "sqz/pipeline/evaluate.h"
#include "sqz/runtime/net.h"
#include "sqz/train/trainer.h"

namespace sqz::pipeline {

Result<std::vector<image::Image>> load_calibration_images(
    const std::vector<std::string>& files, const image::Preprocess& pre,
    const std::function<Status(int)>& progress) {
  std::vector<image::Image> out;
  out.reserve(files.size());
  for (const std::string& f : files) {
    SQZ_ASSIGN_OR_RETURN(image::Image img, image::decode_image_file(f, pre.decode));
    auto resized = image::resize_for(img, pre);
    if (!resized.is_ok()) return resized.status().with_context(f);
    out.push_back(std::move(*resized));
    SQZ_RETURN_IF_ERROR(progress(static_cast<int>(out.size())));
  }
  return out;
}

namespace {

// Centre crops of the images at `indices`, one after another.
std::vector<float> centre_crops(const std::vector<image::Image>& images,
                                const std::vector<size_t>& indices, const image::Preprocess& pre) {
  std::vector<float> out;
  for (size_t i : indices) {
    int x0 = 0, y0 = 0;
    image::centre_offsets(images[i], pre, &x0, &y0);
    const std::vector<float> x = image::preprocess_crop(images[i], pre, x0, y0, false);
    out.insert(out.end(), x.begin(), x.end());
  }
  return out;
}

// A random crop, mirrored half the time (or the centre crop without augmentation).
std::vector<float> training_crop(const image::Image& img, const image::Preprocess& pre,
                                 bool augment, std::mt19937_64& rng) {
  int x0 = 0, y0 = 0;
  image::centre_offsets(img, pre, &x0, &y0);
  bool mirror = false;
  if (augment) {
    x0 = std::uniform_int_distribution<int>(0, img.width - pre.crop_w)(rng);
    y0 = std::uniform_int_distribution<int>(0, img.height - pre.crop_h)(rng);
    mirror = std::bernoulli_distribution(0.5)(rng);
  }
  return image::preprocess_crop(img, pre, x0, y0, mirror);
}

// The validation images (every k-th, evenly spaced) and the rest, for training.
void split_validation(size_t n, double share, std::vector<size_t>* train,
                      std::vector<size_t>* validation) {
  const size_t held = static_cast<size_t>(static_cast<double>(n) * share);
  constexpr size_t kFewest = 8;  // fewer say nothing: train on all
  for (size_t i = 0; i < n; ++i) {
    const bool held_out = held >= kFewest && (i * held) / n != ((i + 1) * held) / n;
    (held_out ? validation : train)->push_back(i);
  }
}

// The mean KL of the student's outputs from the teacher's over the validation crops.
struct Validation {
  std::vector<float> inputs, teacher;
  int64_t n = 0, classes = 0;
  Result<double> measure(train::Trainer& trainer) const {
    std::vector<float> logits;
    SQZ_RETURN_IF_ERROR(trainer.predict(inputs.data(), n, &logits));
    double sum = 0;
    for (int64_t i = 0; i < n; ++i)
      sum += kl_divergence(teacher.data() + i * classes, logits.data() + i * classes, classes);
    return sum / static_cast<double>(n);
  }
};

Status check_calibrate_options(const std::vector<image::Image>& images,
                               const CalibrateOptions& o) {
  SQZ_RETURN_ERROR_IF(images.empty(), ErrorCode::kInvalidArgument, "no calibration images");
  SQZ_RETURN_ERROR_IF(o.steps < 0 || o.batch < 1, ErrorCode::kInvalidArgument,
                      "calibration steps must be >= 0 and the batch >= 1");
  SQZ_RETURN_ERROR_IF(!(o.validation_share >= 0 && o.validation_share <= 0.5) ||
                          o.validate_every < 1,
                      ErrorCode::kInvalidArgument,
                      "the validation share must be in [0, 0.5] and checked every >= 1 steps");
  return Status::ok();
}

train::TrainOptions distillation_options(const Model& student, const CalibrateOptions& options) {
  bool any_quantized = false;
  for (const Layer& l : student.layers) any_quantized |= l.quant.active();
  train::TrainOptions o;
  o.optimizer = train::Optimizer::kAdam;
  o.learning_rate = options.learning_rate;
  o.schedule = train::LrSchedule::kCosine;
  o.total_steps = options.steps;
  o.dropout = 0;  // the teacher runs without dropout; so does its student
  o.threads = options.threads;
  o.seed = options.seed;
  o.train_centroids = any_quantized;
  o.distill_alpha = 0;  // no labels: the teacher's outputs only
  o.distill_temperature = options.temperature;
  return o;
}

}  // namespace

Status calibrate(Model& student, const Model& teacher, const std::vector<image::Image>& images,
                 const image::Preprocess& pre, const CalibrateOptions& options,
                 const std::function<Status(int, double)>& progress, CalibrationReport* report) {
  SQZ_RETURN_IF_ERROR(check_calibrate_options(images, options));
  auto trainer_or = train::Trainer::create(&student, distillation_options(student, options));
  SQZ_RETURN_IF_ERROR(trainer_or.status());
  std::unique_ptr<train::Trainer> trainer = std::move(*trainer_or);
  SQZ_RETURN_IF_ERROR(trainer->check_batch(options.batch));
  runtime::NetOptions no;
  no.threads = options.threads;
  no.policy = runtime::KernelPolicy::kDense;
  SQZ_ASSIGN_OR_RETURN(auto teacher_net, runtime::Net::create(teacher, no));

  std::vector<size_t> order, held;
  split_validation(images.size(), options.steps > 0 ? options.validation_share : 0, &order, &held);
  Validation val;
  CalibrationReport done;
  done.trained_on = static_cast<int>(order.size());
  done.validated_on = static_cast<int>(held.size());
  Model best;
  if (!held.empty()) {
    val.inputs = centre_crops(images, held, pre);
    val.n = static_cast<int64_t>(held.size());
    SQZ_RETURN_IF_ERROR(teacher_net->forward(val.inputs.data(), val.n, &val.teacher));
    val.classes = static_cast<int64_t>(val.teacher.size()) / val.n;
    SQZ_ASSIGN_OR_RETURN(done.kl_before, val.measure(*trainer));
    done.kl_kept = done.kl_before, done.step_kept = 0;
    best = student;
  }
  const size_t per_image = static_cast<size_t>(pre.channels) * pre.crop_h * pre.crop_w;
  std::mt19937_64 rng(options.seed);
  size_t next = order.size();  // reshuffle at the first step
  std::vector<float> batch(per_image * static_cast<size_t>(options.batch)), soft;
  double total = 0;
  for (int step = 0; step < options.steps; ++step) {
    for (int b = 0; b < options.batch; ++b) {
      if (next == order.size()) {
        std::shuffle(order.begin(), order.end(), rng);
        next = 0;
      }
      const std::vector<float> x = training_crop(images[order[next++]], pre, options.augment, rng);
      std::copy(x.begin(), x.end(), batch.begin() + static_cast<ptrdiff_t>(b * per_image));
    }
    SQZ_RETURN_IF_ERROR(teacher_net->forward(batch.data(), options.batch, &soft));
    SQZ_ASSIGN_OR_RETURN(double loss,
                         trainer->step(batch.data(), nullptr, soft.data(), options.batch));
    total += loss;
    SQZ_RETURN_IF_ERROR(progress(step + 1, total / (step + 1)));
    if (held.empty() || ((step + 1) % options.validate_every && step + 1 < options.steps))
      continue;
    SQZ_ASSIGN_OR_RETURN(double kl, val.measure(*trainer));
    if (kl < done.kl_kept) best = student, done.kl_kept = kl, done.step_kept = step + 1;
  }
  trainer.reset();  // before the student is rolled back under it
  if (!held.empty() && done.step_kept < options.steps) student = std::move(best);
  if (report) *report = done;
  return Status::ok();
}

}  // namespace sqz::pipeline
