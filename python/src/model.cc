#include "model.h"

#include <cstring>

#include "errors.h"
#include "options.h"
#include "sqz/pipeline/classify.h"
#include "sqz/pipeline/evaluate.h"
#include "sqz/pipeline/model_io.h"
#include "sqz/pipeline/preprocessing.h"

namespace sqz::python {
namespace {

constexpr int kMaxThreads = 1024;

int checked_threads(int threads) {
  if (threads < 1 || threads > kMaxThreads)
    raise_invalid("threads must be in 1.." + std::to_string(kMaxThreads) + ", not " +
                  std::to_string(threads));
  return threads;
}

const char* source_name(pipeline::PreprocessSource s) {
  switch (s) {
    case pipeline::PreprocessSource::kGiven: return "given";
    case pipeline::PreprocessSource::kRecorded: return "recorded";
    case pipeline::PreprocessSource::kCaffeModel: return "caffe model";
    case pipeline::PreprocessSource::kAssumed: return "assumed";
  }
  return "";
}

}  // namespace

PyPreprocessor::PyPreprocessor(const std::string& description, const std::vector<int64_t>& chw) {
  if (chw.size() != 3) raise_invalid("input_shape wants (C, H, W)");
  const Shape shape(chw.begin(), chw.end());
  if (description.find('=') != std::string::npos) {
    pre_ = value_or_raise(pipeline::parse_preprocess(description));
    if (pre_.channels != chw[0] || pre_.crop_h != chw[1] || pre_.crop_w != chw[2])
      raise_invalid("the preprocessing '" + description + "' does not fit an input of " +
                    shape_to_string(shape));
    return;
  }
  pipeline::PreprocessSpec spec;
  if (!description.empty()) spec.preset = value_or_raise(pipeline::parse_preset(description));
  pre_ = value_or_raise(pipeline::preprocess_for(shape, spec));
}

py::array_t<float> PyPreprocessor::load(const std::string& path) const {
  Result<std::vector<float>> in = Status::ok();
  {
    py::gil_scoped_release release;
    in = pipeline::load_input(path, pre_);
  }
  const std::vector<float> v = value_or_raise(std::move(in));
  py::array_t<float> a({static_cast<int64_t>(pre_.channels), static_cast<int64_t>(pre_.crop_h),
                        static_cast<int64_t>(pre_.crop_w)});
  std::memcpy(a.mutable_data(), v.data(), v.size() * sizeof(float));
  return a;
}

std::string PyPreprocessor::description() const { return pipeline::describe_preprocess(pre_); }

PyModel::PyModel(const std::string& path, const std::string& prototxt, int threads,
                 const std::vector<int64_t>& input_shape, const std::string& preprocess,
                 bool force, bool tune, const std::string& tune_cache)
    : path_(path), default_threads_(checked_threads(threads)), tune_(tune),
      tune_cache_(tune_cache) {
  check_isa_setting();
  if (!tune && !tune_cache.empty())
    raise_invalid("tune_cache is only read with tune=True (without it the plan is the rule)");
  if (!tune_cache.empty())
    if (Status s = runtime::check_tune_cache(tune_cache); !s.is_ok())
      raise_invalid("tune_cache: " + s.message());
  import::ImportOptions import;
  import.input_shape = input_shape;
  import.sqz_codes_only = true;  // only run: the nets pack a .sqz's codes straight
  if (!input_shape.empty() && input_shape.size() != 4)
    raise_invalid("input_shape wants (N, C, H, W), not " + std::to_string(input_shape.size()) +
                  " values");
  {
    py::gil_scoped_release release;
    auto m = pipeline::load_any_model(path, prototxt, &metadata_, import);
    if (!m.is_ok()) {
      py::gil_scoped_acquire acquire;
      raise_status(m.status());
    }
    model_ = std::move(m).value();
  }
  std::lock_guard<std::mutex> lock(mu_);
  runtime::Net& n = net(default_threads_);
  chw_ = n.input_chw();
  classes_ = n.output_size();
  const std::optional<pipeline::PreprocessSpec> spec = preprocess_spec(preprocess);
  const std::string recorded = value_or_raise(pipeline::recorded_preprocess(metadata_));
  auto r = pipeline::resolve_preprocess(chw_, spec, recorded,
                                        pipeline::is_caffe_model_path(path), force);
  if (r.is_ok()) {
    pre_ = r->pre;
    source_ = source_name(r->source);
    if (r->source == pipeline::PreprocessSource::kAssumed)
      notice_ = path + " records no preprocessing; assumed caffe's (" +
                pipeline::describe_preprocess(r->pre) + ")";
  } else if (spec || !recorded.empty()) {
    raise_status(r.status().with_context(path));
  }
}

py::dict PyModel::plan() {
  std::lock_guard<std::mutex> lock(mu_);
  const runtime::PlanStats s = net(default_threads_).plan_stats();
  py::dict d;
  d["seconds"] = s.seconds;
  d["tuned"] = tune_;
  d["timed"] = s.timed;
  d["cached"] = s.cached;
  d["cache_path"] = s.cache_path;
  d["note"] = s.note;
  return d;
}

runtime::Net& PyModel::net(int threads) {
  auto it = nets_.find(threads);
  if (it != nets_.end()) return *it->second;
  runtime::NetOptions o;
  o.threads = threads;
  o.tune = tune_;
  o.tune_cache = tune_cache_;
  auto n = runtime::Net::create(model_, o);
  if (!n.is_ok()) raise_status(n.status().with_context(path_));
  return *(nets_[threads] = std::move(n).value());
}

py::array_t<float> PyModel::forward(const std::vector<float>& input, int64_t batch, int threads) {
  std::lock_guard<std::mutex> lock(mu_);
  runtime::Net& n = net(threads > 0 ? checked_threads(threads) : default_threads_);
  std::vector<float> out;
  Status s;
  {
    py::gil_scoped_release release;
    // In passes of a few images: any count of inputs runs within the activation budget.
    s = pipeline::forward_batched(n, input.data(), batch, &out,
                                  pipeline::batch_for_input(shape_numel(chw_)));
  }
  check(s);
  py::array_t<float> result({batch, classes_});
  std::memcpy(result.mutable_data(), out.data(), out.size() * sizeof(float));
  return result;
}

py::array_t<float> PyModel::run(py::array input, int threads) {
  auto a = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(input);
  if (!a) raise_invalid("run wants a float32 array of shape (N, C, H, W) or (C, H, W)");
  const int64_t per_image = shape_numel(chw_);
  const bool single = a.ndim() == 3;
  bool fits = (a.ndim() == 4 || single);
  for (int d = 0; fits && d < 3; ++d) fits = a.shape(a.ndim() - 3 + d) == chw_[d];
  if (!fits)
    raise_invalid("run wants inputs of shape (N, " + std::to_string(chw_[0]) + ", " +
                  std::to_string(chw_[1]) + ", " + std::to_string(chw_[2]) + ") for " + path_);
  const int64_t batch = single ? 1 : a.shape(0);
  if (batch < 1) raise_invalid("run wants at least one input");
  std::vector<float> in(a.data(), a.data() + batch * per_image);
  py::array_t<float> out = forward(in, batch, threads);
  if (single) out = out.reshape({classes_});
  return out;
}

py::array_t<float> PyModel::classify_file(const std::string& path, int threads) {
  if (!pre_) raise_invalid(path_ + ": the model's input is not an image; use run()");
  Result<std::vector<float>> in = Status::ok();
  {
    py::gil_scoped_release release;
    in = pipeline::load_input(path, *pre_);
  }
  return forward(value_or_raise(std::move(in)), 1, threads).reshape({classes_});
}

py::array_t<float> PyModel::classify_pixels(py::array pixels, int threads) {
  if (!pre_) raise_invalid(path_ + ": the model's input is not an image; use run()");
  auto a = py::array_t<uint8_t, py::array::c_style>::ensure(pixels);
  const bool grey = a && a.ndim() == 2, rgb = a && a.ndim() == 3 && a.shape(2) == 3;
  if (!grey && !rgb)
    raise_invalid("classify wants uint8 pixels of shape (H, W, 3) (RGB) or (H, W) (grey)");
  image::Image img;
  img.height = static_cast<int>(a.shape(0));
  img.width = static_cast<int>(a.shape(1));
  // The decoder's limits (image::DecodeOptions) hold for pixels given directly too.
  const image::DecodeOptions limits;
  if (img.width < 1 || img.height < 1 || img.width > 16384 || img.height > 16384 ||
      int64_t{img.width} * img.height > limits.max_pixels)
    raise_invalid("classify wants images of 1..16384 pixels a side and at most " +
                  std::to_string(limits.max_pixels) + " pixels");
  img.rgb.resize(static_cast<size_t>(img.width) * img.height * 3);
  const uint8_t* p = a.data();
  for (size_t i = 0, n = static_cast<size_t>(img.width) * img.height; i < n; ++i)
    for (int c = 0; c < 3; ++c) img.rgb[i * 3 + c] = grey ? p[i] : p[i * 3 + c];
  return forward(value_or_raise(image::preprocess(img, *pre_)), 1, threads).reshape({classes_});
}

py::tuple PyModel::input_shape() const { return py::make_tuple(chw_[0], chw_[1], chw_[2]); }

std::optional<std::string> PyModel::preprocess() const {
  if (!pre_) return std::nullopt;
  return pipeline::describe_preprocess(*pre_);
}

std::map<std::string, std::string> PyModel::metadata() const {
  std::map<std::string, std::string> m;
  for (const auto& [k, v] : metadata_) m[k] = v;
  return m;
}

py::dict codebooks(const std::string& path, const std::string& prototxt) {
  Result<Model> m = Status::ok();
  {
    py::gil_scoped_release release;
    m = pipeline::load_any_model(path, prototxt);
  }
  const Model model = value_or_raise(std::move(m));
  py::dict d;
  for (const Layer& l : model.layers) {
    if (!l.quant.active()) continue;
    py::array_t<float> book(static_cast<py::ssize_t>(l.quant.codebook.size()));
    std::memcpy(book.mutable_data(), l.quant.codebook.data(), l.quant.codebook.size() * 4);
    py::array_t<uint8_t> codes(static_cast<py::ssize_t>(l.quant.codes.size()));
    std::memcpy(codes.mutable_data(), l.quant.codes.data(), l.quant.codes.size());
    d[py::str(l.name)] = py::make_tuple(book, codes);
  }
  return d;
}

}  // namespace sqz::python
