#include "sqz/pipeline/calibrate.h"

#include <random>

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

Status calibrate(Model& student, const Model& teacher, const std::vector<image::Image>& images,
                 const image::Preprocess& pre, const CalibrateOptions& options,
                 const std::function<Status(int, double)>& progress) {
  SQZ_RETURN_ERROR_IF(images.empty(), ErrorCode::kInvalidArgument, "no calibration images");
  SQZ_RETURN_ERROR_IF(options.steps < 0 || options.batch < 1, ErrorCode::kInvalidArgument,
                      "calibration steps must be >= 0 and the batch >= 1");
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
  SQZ_ASSIGN_OR_RETURN(auto trainer, train::Trainer::create(&student, o));
  SQZ_RETURN_IF_ERROR(trainer->check_batch(options.batch));
  runtime::NetOptions no;
  no.threads = options.threads;
  no.policy = runtime::KernelPolicy::kDense;
  SQZ_ASSIGN_OR_RETURN(auto teacher_net, runtime::Net::create(teacher, no));

  const size_t per_image = static_cast<size_t>(pre.channels) * pre.crop_h * pre.crop_w;
  std::mt19937_64 rng(options.seed);
  std::vector<size_t> order(images.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  size_t next = order.size();  // reshuffle at the first step
  std::vector<float> batch(per_image * static_cast<size_t>(options.batch)), soft;
  double total = 0;
  for (int step = 0; step < options.steps; ++step) {
    for (int b = 0; b < options.batch; ++b) {
      if (next == order.size()) {
        std::shuffle(order.begin(), order.end(), rng);
        next = 0;
      }
      const image::Image& img = images[order[next++]];
      int x0 = 0, y0 = 0;
      image::centre_offsets(img, pre, &x0, &y0);
      bool mirror = false;
      if (options.augment) {
        x0 = std::uniform_int_distribution<int>(0, img.width - pre.crop_w)(rng);
        y0 = std::uniform_int_distribution<int>(0, img.height - pre.crop_h)(rng);
        mirror = std::bernoulli_distribution(0.5)(rng);
      }
      const std::vector<float> x = image::preprocess_crop(img, pre, x0, y0, mirror);
      std::copy(x.begin(), x.end(), batch.begin() + static_cast<ptrdiff_t>(b * per_image));
    }
    SQZ_RETURN_IF_ERROR(teacher_net->forward(batch.data(), options.batch, &soft));
    SQZ_ASSIGN_OR_RETURN(double loss,
                         trainer->step(batch.data(), nullptr, soft.data(), options.batch));
    total += loss;
    SQZ_RETURN_IF_ERROR(progress(step + 1, total / (step + 1)));
  }
  return Status::ok();
}

}  // namespace sqz::pipeline
