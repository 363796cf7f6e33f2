#include "sqz/pipeline/evaluate.h"

#include <algorithm>
#include <cmath>

#include "sqz/pipeline/classify.h"
#include "sqz/pipeline/labels.h"
#include "sqz/runtime/net.h"
#include "sqz/runtime/thread_pool.h"

namespace sqz::pipeline {
namespace {

std::string image_name(const ImageSet& images, size_t i) {
  return i < images.paths.size() ? images.paths[i] : "image " + std::to_string(i);
}

std::vector<double> softmax(const float* x, int64_t n) {
  std::vector<double> p(static_cast<size_t>(n));
  const double m = *std::max_element(x, x + n);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += p[i] = std::exp(double{x[i]} - m);
  for (double& v : p) v /= sum;
  return p;
}

}  // namespace

double kl_divergence(const float* reference, const float* scores, int64_t n) {
  const std::vector<double> p = softmax(reference, n), q = softmax(scores, n);
  double kl = 0;
  for (int64_t c = 0; c < n; ++c)
    if (p[c] > 0) kl += p[c] * (std::log(p[c]) - std::log(std::max(q[c], 1e-300)));
  return kl;
}

Result<ImageSet> load_images(const LabelledFiles& list, const image::Preprocess& pre,
                             Observer* observer, bool skip_bad_images, int threads) {
  ImageSet set;
  if (skip_bad_images) set.skipped = list.unusable;
  SQZ_RETURN_ERROR_IF(!skip_bad_images && !list.unusable.empty(), ErrorCode::kIo,
                      list.unusable.front().second);
  Task task(observer, "loading images", static_cast<int64_t>(list.size()));
  // In groups of 8 images a thread, so that progress (and a cancellation) comes between them.
  const size_t group = 8 * static_cast<size_t>(std::clamp(threads, 1, runtime::usable_cpus()));
  for (size_t first = 0; first < list.size(); first += group) {
    LoadedInputs loaded = load_inputs(list.files, first, first + group, pre, threads);
    std::vector<Result<std::vector<float>>>& decoded = loaded.results;
    for (size_t d = 0; d < decoded.size(); ++d) {
      const size_t i = first + d;
      if (!decoded[d].is_ok() && skip_bad_images) {
        set.skipped.push_back({list.files[i], decoded[d].status().message()});
        SQZ_RETURN_IF_ERROR(task.advance(static_cast<int64_t>(i + 1)));
        continue;
      }
      SQZ_ASSIGN_OR_RETURN(std::vector<float> in, std::move(decoded[d]));
      set.paths.push_back(list.files[i]);
      set.labels.push_back(list.labels[i]);
      set.inputs.push_back(std::move(in));
      SQZ_RETURN_IF_ERROR(task.advance(static_cast<int64_t>(i + 1)));
    }
    if (loaded.thrown) std::rethrow_exception(loaded.thrown);
  }
  return set;
}

Status forward_named(runtime::Net& net, const float* batch, int64_t count, std::vector<float>* out,
                     const std::function<std::string(int64_t)>& name) {
  const Status s = net.forward(batch, count, out);
  const int64_t n = net.output_size();
  if (s.is_ok() || static_cast<int64_t>(out->size()) != count * n)
    return count == 1 ? s.with_context(name(0)) : s;
  for (int64_t b = 0; b < count; ++b)
    if (Status o = runtime::check_finite_outputs(out->data() + b * n, 1, n, -1); !o.is_ok())
      return o.with_context(name(b));
  return count == 1 ? s.with_context(name(0)) : s;
}

Status forward_batched(runtime::Net& net, const float* inputs, int64_t n, std::vector<float>* out,
                       int64_t chunk) {
  const int64_t in_size = shape_numel(net.input_chw());
  SQZ_RETURN_IF_ERROR(runtime::check_finite_inputs(inputs, n, in_size));  // counted from 0 here
  // A chunk whose activations exceed the net's budget is halved (one image's limit stands).
  while (chunk > 1 && net.reserve(std::min(chunk, n)).code() == ErrorCode::kLimit) chunk /= 2;
  std::vector<float> part;
  out->clear();
  for (int64_t i = 0; i < n; i += chunk) {
    const int64_t count = std::min(chunk, n - i);
    if (Status s = net.forward(inputs + i * in_size, count, &part); !s.is_ok()) {
      // Outputs that are not finite, named counting from the first input (not the chunk's).
      if (static_cast<int64_t>(part.size()) == count * net.output_size())
        SQZ_RETURN_IF_ERROR(
            runtime::check_finite_outputs(part.data(), count, net.output_size(), i));
      return s;
    }
    out->insert(out->end(), part.begin(), part.end());
  }
  return Status::ok();
}

Result<Scores> score_images(const Model& model, const ImageSet& images, int threads,
                            const std::string& progress_label, Observer* observer) {
  runtime::NetOptions opts;
  opts.threads = threads;
  SQZ_ASSIGN_OR_RETURN(auto net, runtime::Net::create(model, opts));
  Scores s;
  s.classes = net->output_size();
  s.values.reserve(images.inputs.size() * static_cast<size_t>(s.classes));
  Task task(observer, progress_label, static_cast<int64_t>(images.inputs.size()));
  std::vector<float> batch, out;
  const size_t total = images.inputs.size();
  for (size_t i = 0; i < total; i += kScoreBatch) {
    const size_t count = std::min<size_t>(kScoreBatch, total - i);
    batch.clear();
    for (size_t k = i; k < i + count; ++k)
      batch.insert(batch.end(), images.inputs[k].begin(), images.inputs[k].end());
    SQZ_RETURN_IF_ERROR(forward_named(*net, batch.data(), static_cast<int64_t>(count), &out,
                                      [&](int64_t b) { return image_name(images, i + b); }));
    s.values.insert(s.values.end(), out.begin(), out.end());
    SQZ_RETURN_IF_ERROR(task.advance(static_cast<int64_t>(i + count)));
  }
  return s;
}

Accuracy measure_accuracy(const Scores& s, const ImageSet& images, const Scores* reference) {
  Accuracy a;
  a.images = static_cast<int64_t>(images.inputs.size());
  int64_t t1 = 0, t5 = 0, agree = 0;
  double kl = 0;
  const int n = static_cast<int>(s.classes);
  for (size_t i = 0; i < images.inputs.size(); ++i) {
    const std::vector<int> best = top_k(s.row(i), n, 5);
    if (images.labels[i] >= 0) {
      ++a.labelled;
      const bool one = best[0] == images.labels[i];
      const bool five = std::find(best.begin(), best.end(), images.labels[i]) != best.end();
      t1 += one;
      t5 += five;
      a.hits.push_back(static_cast<int8_t>(one | five << 1));
    } else {
      a.hits.push_back(-1);
    }
    if (reference) {
      agree += best[0] == top_k(reference->row(i), n, 1)[0];
      kl += kl_divergence(reference->row(i), s.row(i), n);
    }
  }
  if (a.labelled)
    a.top1 = static_cast<double>(t1) / a.labelled, a.top5 = static_cast<double>(t5) / a.labelled;
  if (reference && a.images) {
    a.agreement = static_cast<double>(agree) / a.images;
    a.mean_kl = kl / a.images;
  }
  return a;
}

Result<Accuracy> evaluate_images(runtime::Net& net, const image::Preprocess& pre,
                                 const LabelledFiles& list, Observer* observer,
                                 SkippedImages* skipped) {
  const int n = static_cast<int>(net.output_size());
  int64_t top1 = 0, top5 = 0;
  Accuracy a;
  Task task(observer, "eval", static_cast<int64_t>(list.size()));
  // Up to kScoreBatch decoded images at a time, run as one batch.
  std::vector<float> batch, out;
  std::vector<int> labels;
  std::vector<std::string> paths;
  auto run_batch = [&]() -> Status {
    if (labels.empty()) return Status::ok();
    SQZ_RETURN_IF_ERROR(forward_named(net, batch.data(), static_cast<int64_t>(labels.size()), &out,
                                      [&](int64_t b) { return paths[b]; }));
    for (size_t b = 0; b < labels.size(); ++b) {
      const std::vector<int> best = top_k(out.data() + b * n, n, 5);
      top1 += best[0] == labels[b];
      top5 += std::find(best.begin(), best.end(), labels[b]) != best.end();
      ++a.images;
    }
    batch.clear();
    labels.clear();
    paths.clear();
    return Status::ok();
  };
  // Images decoded kScoreBatch at a time on the net's threads, then taken in order.
  for (size_t first = 0; first < list.size(); first += kScoreBatch) {
    LoadedInputs decoded = load_inputs(list.files, first, first + kScoreBatch, pre, net.threads());
    for (size_t d = 0; d < decoded.results.size(); ++d) {
      const size_t i = first + d;
      Result<std::vector<float>>& loaded = decoded.results[d];
      if (!loaded.is_ok() && skipped) {
        skipped->push_back({list.files[i], loaded.status().message()});
      } else {
        SQZ_ASSIGN_OR_RETURN(std::vector<float> in, std::move(loaded));
        batch.insert(batch.end(), in.begin(), in.end());
        labels.push_back(list.labels[i]);
        paths.push_back(list.files[i]);
        if (static_cast<int64_t>(labels.size()) == kScoreBatch) SQZ_RETURN_IF_ERROR(run_batch());
      }
      SQZ_RETURN_IF_ERROR(task.advance(static_cast<int64_t>(i + 1)));
    }
    if (decoded.thrown) std::rethrow_exception(decoded.thrown);
  }
  SQZ_RETURN_IF_ERROR(run_batch());
  a.labelled = a.images;
  if (a.images)
    a.top1 = static_cast<double>(top1) / a.images, a.top5 = static_cast<double>(top5) / a.images;
  return a;
}

}  // namespace sqz::pipeline
