// Running a model over a set of labelled images and scoring it: shared by eval,
// sensitivity, report and compress.
#pragma once

#include <string>
#include <vector>

#include "sqz/core/graph.h"
#include "sqz/core/status.h"
#include "sqz/image/image.h"
#include "sqz/pipeline/labels.h"
#include "sqz/runtime/net.h"
#include "sqz/pipeline/observer.h"

namespace sqz::pipeline {

struct ImageSet {
  std::vector<std::string> paths;
  std::vector<int> labels;                 // class index, or -1 when unknown
  std::vector<std::vector<float>> inputs;  // preprocessed CHW
};

// Lists, labels (from "<wnid>_" file names when labels_path names a class list; "" = none)
// and preprocesses the images of dir by pre. limit > 0 keeps the first `limit` files.
// Reports a task "loading images" to observer (may be null).
Result<ImageSet> load_image_set(const std::string& dir, const std::string& labels_path, int limit,
                                const image::Preprocess& pre, Observer* observer);
// The same for a list of files.
Result<ImageSet> load_image_files(const std::vector<std::string>& files,
                                  const std::string& labels_path, const image::Preprocess& pre,
                                  Observer* observer);

// Network outputs, one row of `classes` scores per image.
struct Scores {
  int64_t classes = 0;
  std::vector<float> values;
  const float* row(size_t i) const { return values.data() + i * classes; }
};

// Runs model on every image; reports a task named progress_label to observer (may be null).
Result<Scores> score_images(const Model& model, const ImageSet& images, int threads,
                            const std::string& progress_label, Observer* observer);

struct Accuracy {
  int64_t images = 0, labelled = 0;
  double top1 = 0, top5 = 0;  // over labelled images, fractions
  double agreement = -1;      // top-1 agreement with a reference, fraction (-1: none)
  double mean_kl = -1;        // mean KL(reference softmax || model softmax), nats
};

// KL(softmax(reference) || softmax(scores)) of one row of n scores, in nats.
double kl_divergence(const float* reference, const float* scores, int64_t n);

Accuracy measure_accuracy(const Scores& s, const ImageSet& images, const Scores* reference);

// Top-1 and top-5 of net on labelled image files preprocessed by pre, one image in memory at
// a time (labels from "<wnid>_" file names in `labels`, read from labels_path). Reports a task
// "eval" to observer (may be null). Errors: an image that does not decode or whose name has
// no class of `labels`.
Result<Accuracy> evaluate_files(rt::Net& net, const image::Preprocess& pre,
                                const std::vector<std::string>& files, const Labels& labels,
                                const std::string& labels_path, Observer* observer);

}  // namespace sqz::pipeline
