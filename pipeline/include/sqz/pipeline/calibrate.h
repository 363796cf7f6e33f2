// Calibration without labels: distil a compressed student towards the uncompressed teacher on
// a few unlabeled images (Hinton et al. 2015), with random crops and mirroring of the images'
// resize (Krizhevsky et al. 2012, Sec. 4.1). With quantized layers it trains only their shared
// centroids and the biases (Deep Compression Sec. 3.3, Eq. 3); otherwise the surviving
// weights under their masks.
#pragma once

#include <functional>
#include <vector>

#include "sqz/core/graph.h"
#include "sqz/core/status.h"
#include "sqz/image/image.h"

namespace sqz::pipeline {

struct CalibrateOptions {
  int steps = 600;
  int batch = 8;
  double learning_rate = 1e-4;  // Adam, cosine-decayed to 0 over `steps`
  double temperature = 1.0;     // of the distillation softmax
  int threads = 1;
  uint64_t seed = 1;
  bool augment = true;  // random crops and mirroring; off: centre crops only
  // Images held aside, evenly spaced, to choose the state kept (early stopping on a
  // validation set): the mean KL from the teacher on their centre crops is measured before
  // the first step, every validate_every steps and after the last, and the state where it was
  // smallest is kept, so calibration never leaves the student further from the teacher on
  // images it did not train on. Fewer than 8 images held aside (or 0): no validation, all
  // images train and the last state is kept.
  double validation_share = 0.1;
  int validate_every = 100;
};

// What calibrate() did with its validation images (all -1/0 without them).
struct CalibrationReport {
  int trained_on = 0, validated_on = 0;
  double kl_before = -1, kl_kept = -1;  // mean KL on the validation images, nats
  int step_kept = -1;                   // 0: the state before the first step
};

// Decodes and resizes each image once (image::resize_for) for calibrate().
// progress(images done) after each; a non-ok Status from it stops the call with that error.
Result<std::vector<image::Image>> load_calibration_images(
    const std::vector<std::string>& files, const image::Preprocess& pre,
    const std::function<Status(int)>& progress);

// Distils student towards teacher on `images` (already resized, each at least the crop). progress(step, mean loss)
// is called after every step; a non-ok Status from it stops the call with that error. The
// student's masks and codebook assignments never change. kInvalidArgument for no images,
// steps < 0, batch < 1, a validation share outside [0, 0.5] or validate_every < 1.
Status calibrate(Model& student, const Model& teacher, const std::vector<image::Image>& images,
                 const image::Preprocess& pre, const CalibrateOptions& options,
                 const std::function<Status(int, double)>& progress,
                 CalibrationReport* report = nullptr);

}  // namespace sqz::pipeline
