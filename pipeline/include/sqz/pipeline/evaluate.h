// Running a model over a set of labelled images and scoring it: shared by eval,
// sensitivity, report and compress.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "sqz/core/graph.h"
#include "sqz/core/status.h"
#include "sqz/image/image.h"
#include "sqz/pipeline/labels.h"
#include "sqz/pipeline/observer.h"
#include "sqz/report/measures.h"
#include "sqz/runtime/net.h"

namespace sqz::pipeline {

// Images that could not be used, with the reason (a truncated JPEG, a file beyond the image
// budget, ...): folder-wide measurements skip and count them instead of failing.
using SkippedImages = std::vector<std::pair<std::string, std::string>>;

struct ImageSet {
  std::vector<std::string> paths;
  std::vector<int> labels;                 // class index, or -1 when unknown
  std::vector<std::vector<float>> inputs;  // preprocessed CHW
  SkippedImages skipped;                   // with skip_bad_images
};

// Decodes and preprocesses every image of `list` by pre (labels carried over), on up to
// `threads` threads (load_inputs). Reports a task "loading images" to observer (may be null).
// Errors name the image (the first in the list's order). With skip_bad_images, an image that
// does not decode is listed in ImageSet::skipped.
Result<ImageSet> load_images(const LabelledFiles& list, const image::Preprocess& pre,
                             Observer* observer, bool skip_bad_images = false, int threads = 1);

// Images per forward pass when a model scores many (one pass over a batch instead of a pass
// per image: the threads then share out more work per layer).
constexpr int64_t kScoreBatch = 8;

// net's outputs for n inputs (N x C x H x W), run `chunk` at a time (fewer where the net's
// activation budget refuses that many): a network plans its activations for the batch it is
// given, so one pass over many images would need their sum. The same bits as one pass.
Status forward_batched(runtime::Net& net, const float* inputs, int64_t n, std::vector<float>* out,
                       int64_t chunk = kScoreBatch);

// net.forward on `count` images; its error names an image by name(b) (b counted in the
// batch): the first whose outputs are not finite, when the net refuses them, and for any
// other error the image when the batch is one.
Status forward_named(runtime::Net& net, const float* batch, int64_t count, std::vector<float>* out,
                     const std::function<std::string(int64_t)>& name);

// Images per pass for inputs of `floats` each: 100 when small (28x28 digits and the like),
// kScoreBatch for image-sized ones (a 227x227 SqueezeNet plans ~20 MB of activations per image).
inline int64_t batch_for_input(int64_t floats) { return floats <= 64 * 64 * 3 ? 100 : kScoreBatch; }

// Network outputs, one row of `classes` scores per image.
struct Scores {
  int64_t classes = 0;
  std::vector<float> values;
  const float* row(size_t i) const { return values.data() + i * classes; }
};

// Runs model on every image; reports a task named progress_label to observer (may be null).
Result<Scores> score_images(const Model& model, const ImageSet& images, int threads,
                            const std::string& progress_label, Observer* observer);

using report::Accuracy;

// KL(softmax(reference) || softmax(scores)) of one row of n scores, in nats.
double kl_divergence(const float* reference, const float* scores, int64_t n);

Accuracy measure_accuracy(const Scores& s, const ImageSet& images, const Scores* reference);

// Top-1 and top-5 of net on labelled images preprocessed by pre, one image in memory at a
// time. Reports a task "eval" to observer (may be null). REQUIRES: every label >= 0.
// Errors: an image that does not decode.
// Images that do not decode are skipped and listed in *skipped (when given; else an error).
Result<Accuracy> evaluate_images(runtime::Net& net, const image::Preprocess& pre,
                                 const LabelledFiles& list, Observer* observer,
                                 SkippedImages* skipped = nullptr);

}  // namespace sqz::pipeline
