#include "options.h"

#include <pybind11/stl.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "errors.h"
#include "sqz/pipeline/image_split.h"
#include "sqz/pipeline/preprocessing.h"

namespace sqz::python {
namespace {

// The command line's limits (cli/common.h).
constexpr int64_t kMaxSteps = 10000000, kMaxBatch = 4096, kMaxThreads = 1024;
constexpr int64_t kMaxSeed = int64_t{1} << 53;

std::string shortest(double x) {  // 0 and 1, not 0.000000 and 1.000000
  char b[32];
  std::snprintf(b, sizeof b, "%g", x);
  return b;
}

}  // namespace

void Keywords::bad(const char* key, const std::string& what) const {
  raise_invalid(function_ + "(): " + key + " " + what);
}

py::handle Keywords::get(const char* key) {
  read_.push_back(key);
  return options_[key];
}

void Keywords::integer(const char* key, int64_t lo, int64_t hi, int64_t* out) {
  if (!has(key)) return;
  py::handle v = get(key);
  if (!py::isinstance<py::int_>(v) || py::isinstance<py::bool_>(v)) bad(key, "must be an int");
  int64_t x = 0;
  try {
    x = v.cast<int64_t>();
  } catch (const py::cast_error&) {
    bad(key, "must be in " + std::to_string(lo) + ".." + std::to_string(hi));
  }
  if (x < lo || x > hi)
    bad(key, "must be in " + std::to_string(lo) + ".." + std::to_string(hi) + ", not " +
                 std::to_string(x));
  *out = x;
}

void Keywords::integer(const char* key, int64_t lo, int64_t hi, int* out) {
  int64_t x = *out;
  integer(key, lo, hi, &x);
  *out = static_cast<int>(x);
}

void Keywords::integer(const char* key, int64_t lo, int64_t hi, uint64_t* out) {
  int64_t x = static_cast<int64_t>(*out);
  integer(key, lo, hi, &x);
  *out = static_cast<uint64_t>(x);
}

void Keywords::real(const char* key, double lo, double hi, double* out, bool lo_open) {
  if (!has(key)) return;
  py::handle v = get(key);
  if (!(py::isinstance<py::float_>(v) || py::isinstance<py::int_>(v)) ||
      py::isinstance<py::bool_>(v))
    bad(key, "must be a number");
  double x = NAN;
  try {
    x = v.cast<double>();
  } catch (const py::cast_error&) {  // an int past a double's range
  }
  if (!std::isfinite(x) || x < lo || x > hi || (lo_open && x <= lo))
    bad(key, std::string("must be in ") + (lo_open ? "(" : "[") + shortest(lo) + ", " +
                 shortest(hi) + "], not " + py::str(v).cast<std::string>().substr(0, 40));
  *out = x;
}

void Keywords::flag(const char* key, bool* out) {
  if (!has(key)) return;
  py::handle v = get(key);
  if (!py::isinstance<py::bool_>(v)) bad(key, "must be True or False");
  *out = v.cast<bool>();
}

void Keywords::text(const char* key, std::string* out) {
  if (!has(key)) return;
  py::handle v = get(key);
  if (v.is_none()) return;
  if (!py::isinstance<py::str>(v) && !py::hasattr(v, "__fspath__")) bad(key, "must be a str");
  const std::string s = py::str(py::module_::import("os").attr("fspath")(v)).cast<std::string>();
  if (s.empty()) bad(key, "must not be empty");
  *out = s;
}

void Keywords::choice(const char* key, const std::vector<std::string>& choices, std::string* out) {
  std::string s = *out;
  text(key, &s);
  if (std::find(choices.begin(), choices.end(), s) == choices.end()) {
    std::string list;
    for (const auto& c : choices) list += (list.empty() ? "" : ", ") + c;
    bad(key, "must be one of " + list + ", not '" + s + "'");
  }
  *out = s;
}

void Keywords::name_values(const char* key, double lo, double hi,
                           std::map<std::string, double>* out) {
  if (!has(key)) return;
  py::handle v = get(key);
  if (!py::isinstance<py::dict>(v)) bad(key, "must be a dict of layer name to number");
  for (auto [name, value] : v.cast<py::dict>()) {
    double x = NAN;
    if ((py::isinstance<py::float_>(value) || py::isinstance<py::int_>(value)) &&
        !py::isinstance<py::bool_>(value)) {
      try {
        x = value.cast<double>();
      } catch (const py::cast_error&) {
      }
    }
    if (!py::isinstance<py::str>(name) || !std::isfinite(x) || x < lo || x > hi)
      bad(key, "wants layer names with values in [" + std::to_string(lo) + ", " +
                   std::to_string(hi) + "]");
    (*out)[name.cast<std::string>()] = x;
  }
}

void Keywords::name_ints(const char* key, int lo, int hi, std::map<std::string, int>* out) {
  std::map<std::string, double> values;
  name_values(key, lo, hi, &values);
  for (const auto& [name, x] : values) {
    if (x != std::floor(x)) bad(key, "wants whole numbers");
    (*out)[name] = static_cast<int>(x);
  }
}

void Keywords::ints(const char* key, std::vector<int64_t>* out) {
  if (!has(key)) return;
  py::handle v = get(key);
  try {
    *out = v.cast<std::vector<int64_t>>();
  } catch (const py::cast_error&) {
    bad(key, "must be a sequence of ints");
  }
}

void Keywords::finish() const {
  for (auto [key, value] : options_) {
    const std::string k = py::str(key).cast<std::string>();
    if (std::find(read_.begin(), read_.end(), k) == read_.end())
      raise_invalid(function_ + "(): unknown option '" + k + "'");
  }
}

std::vector<std::string> Keywords::given() const {
  std::vector<std::string> keys;
  for (auto [key, value] : options_) keys.push_back(py::str(key).cast<std::string>());
  return keys;
}

std::optional<pipeline::PreprocessSpec> preprocess_spec(const std::string& text) {
  if (text.empty()) return std::nullopt;
  pipeline::PreprocessSpec spec;
  if (text.find('=') == std::string::npos) {
    spec.preset = value_or_raise(pipeline::parse_preset(text));
    return spec;
  }
  // A whole record: every field given (the crop is the network's input either way).
  const image::Preprocess p = value_or_raise(pipeline::parse_preprocess(text));
  spec.resize_mode = p.resize_mode;
  spec.resize = p.resize;
  spec.bgr = p.bgr;
  spec.divisor = p.divisor;
  spec.mean = std::array<float, 3>{p.mean[0], p.mean[1], p.mean[2]};
  spec.std = std::array<float, 3>{p.std[0], p.std[1], p.std[2]};
  return spec;
}

std::optional<pipeline::PreprocessSpec> preprocess_option(Keywords& k, bool* re_record) {
  std::string text;
  k.text("preprocess", &text);
  k.flag("re_record_preprocess", re_record);
  return preprocess_spec(text);
}

import::ImportOptions import_option(Keywords& k){import::ImportOptions o;
k.ints("input_shape", &o.input_shape);
bool ok = o.input_shape.empty() || o.input_shape.size() == 4;
for (int64_t d : o.input_shape) ok &= d >= 1 && d <= 65536;
if (!ok) raise_invalid("input_shape wants (N, C, H, W) with each in 1..65536");
return o;
}  // namespace sqz::python

namespace {

void quantize_fields(Keywords& k, pipeline::CompressOptions* o) {
  k.integer("bits", 1, 8, &o->quantize.bits);
  k.name_ints("layer_bits", 0, 8, &o->quantize.layer_bits);
  k.integer("target_bytes", 0, int64_t{1000000000000}, &o->target_bytes);
  std::vector<int64_t> widths(o->widths.begin(), o->widths.end());
  k.ints("widths", &widths);
  o->widths.assign(widths.begin(), widths.end());
  k.flag("half_widths", &o->half_widths);
  k.integer("probe_images", 1, 1000000, &o->probe_images);
  std::string init = "linear", codes = "sequential";
  k.choice("init", {"linear", "kmeans++", "exact"}, &init);
  o->quantize.init = init == "kmeans++" ? quantize::Init::kKmeansPlusPlus : quantize::Init::kLinear;
  o->quantize.exact = init == "exact";
  std::string method = "kmeans";
  k.choice("method", {"kmeans", "uniform"}, &method);
  o->quantize.method = method == "uniform" ? quantize::Method::kUniform : quantize::Method::kKmeans;
  k.choice("codes", {"sequential", "compensated", "nearest"}, &codes);
  o->error_compensation = codes != "nearest";
  o->sequential = codes == "sequential";
  k.integer("moment_images", 1, 1000000, &o->moment_images);
  k.real("rate_weight", 0, 100, &o->gptq.rate_weight, false);
  k.integer("code_descent", 0, 100, &o->gptq.descent_passes);
  k.integer("code_pairs", 0, 100, &o->gptq.pair_passes);
  k.integer("block_steps", 0, 100000, &o->blocks.steps);
  k.integer("block_images", 1, 1000000, &o->blocks.images);
  k.real("block_lr", 0, 1, &o->blocks.learning_rate, true);
  k.flag("codebook_refit", &o->refit_codebook);
  // Biases as 8-bit by default; half_floats=True (binary16) or int8_biases=False (float32)
  // instead.
  k.flag("half_floats", &o->encoding.half_floats);
  o->encoding.int8_biases = !o->encoding.half_floats;
  k.flag("int8_biases", &o->encoding.int8_biases);
}

void calibration_fields(Keywords& k, pipeline::CompressOptions* o) {
  pipeline::CalibrateOptions& c = o->calibration;
  k.text("calib", &o->calib_dir);
  std::string split, holdout;
  k.text("calib_split", &split);
  k.text("holdout_split", &holdout);
  if (!split.empty() && !holdout.empty())
    raise_invalid("calib_split and holdout_split are two ways to split calib: give one");
  if (!split.empty()) o->calib_fold = value_or_raise(pipeline::parse_fold(split, "calib_split"));
  if (!holdout.empty()) {
    o->calib_fold = value_or_raise(pipeline::parse_fold(holdout, "holdout_split"));
    o->calib_fold->held_out = true;
  }
  o->calibrate_after_sequential = k.has("calib_steps");
  k.integer("calib_steps", 0, kMaxSteps, &c.steps);
  k.integer("calib_batch", 1, kMaxBatch, &c.batch);
  k.real("calib_lr", 0, 10, &c.learning_rate, true);
  k.real("temperature", 0, 100, &c.temperature, true);
  k.flag("augment", &c.augment);
  k.real("calib_validation", 0, 0.5, &c.validation_share, false);
  k.text("holdout", &o->holdout_dir);
  k.text("labels", &o->labels);
}

void training_fields(Keywords& k, pipeline::CompressOptions* o) {
  pipeline::RetrainSchedule& t = o->retrain;
  k.text("train", &o->train_dir);
  k.text("train_label_file", &o->train_label_file);
  std::string schedule = "gradual";
  k.choice("schedule", {"gradual", "steps"}, &schedule);
  t.gradual = schedule == "gradual";
  k.integer("prune_steps", 1, 10000, &t.prune_steps);
  k.integer("train_steps", 0, kMaxSteps, &t.retrain_steps);
  k.real("train_lr", 0, 10, &t.learning_rate, true);
  k.integer("finetune_steps", 0, kMaxSteps, &t.finetune_steps);
  k.real("finetune_lr", 0, 10, &t.finetune_lr, true);
  bool at_once = false;
  k.flag("quantize_at_once", &at_once);
  t.pointwise_first = !at_once;
  k.real("label_weight", 0, 1, &t.label_weight);
  k.real("train_temperature", 0, 100, &t.temperature, true);
  k.real("dropout", 0, 0.99, &t.dropout);
  k.integer("train_batch", 1, kMaxBatch, &t.batch);
  k.flag("mirror", &t.mirror);
}

}  // namespace

pipeline::CompressOptions compress_options(Keywords& k) {
  pipeline::CompressOptions o;
  o.quantize.bits = 6;  // the command line's default
  k.text("prototxt", &o.prototxt);
  o.import = import_option(k);
  k.integer("threads", 1, kMaxThreads, &o.threads);
  k.integer("seed", 0, kMaxSeed, &o.seed);
  k.real("density", 0, 1, &o.pruning.density);
  k.name_values("layer_density", 0, 1, &o.pruning.layer_density);
  std::string granularity = "weight";
  k.choice("granularity", {"weight", "kernel"}, &granularity);
  o.pruning.granularity =
      granularity == "kernel" ? prune::Granularity::kKernel : prune::Granularity::kWeight;
  k.integer("retrain_steps", 0, kMaxSteps, &o.retrain_steps);
  quantize_fields(k, &o);
  calibration_fields(k, &o);
  training_fields(k, &o);
  o.preprocess = preprocess_option(k, &o.re_record_preprocess);
  k.flag("allow_truncated_images", &o.decode.allow_truncated);
  k.finish();
  check(pipeline::check_compress_options(o));
  check(pipeline::check_option_dependencies(o, k.given()));
  return o;
}

PruneSettings prune_options(Keywords& k) {
  PruneSettings s;
  prune::PruneOptions& o = s.options;
  const int chosen = k.has("density") + k.has("global_density") + k.has("quality");
  if (chosen != 1) raise_invalid("prune(): give exactly one of density, global_density, quality");
  o.criterion = k.has("quality")          ? prune::Criterion::kQuality
                : k.has("global_density") ? prune::Criterion::kGlobalDensity
                                          : prune::Criterion::kDensity;
  k.real("density", 0, 1, &o.density, true);
  k.real("global_density", 0, 1, &o.density, true);
  k.real("quality", 0, 1e6, &o.quality);
  k.integer("steps", 1, 10000, &o.steps);
  std::string schedule = "cubic", granularity = "weight";
  k.choice("schedule", {"cubic", "linear"}, &schedule);
  o.schedule = schedule == "linear" ? prune::Schedule::kLinear : prune::Schedule::kCubic;
  k.choice("granularity", {"weight", "kernel"}, &granularity);
  o.granularity =
      granularity == "kernel" ? prune::Granularity::kKernel : prune::Granularity::kWeight;
  k.name_values("layer_density", 0, 1, &o.layer_density);
  k.text("retrain_cmd", &s.retrain_cmd);
  check(prune::check_option_dependencies(o, k.given()));
  return s;
}

quantize::QuantizeOptions quantize_options(Keywords& k, std::string* pipeline_text,
                                           std::string* retrain_cmd) {
  quantize::QuantizeOptions o;
  k.text("retrain_cmd", retrain_cmd);
  k.integer("bits", 1, 8, &o.bits);
  k.name_ints("layer_bits", 0, 8, &o.layer_bits);
  std::string init = "linear", method = "kmeans";
  k.choice("init", {"linear", "density", "random", "kmeans++"}, &init);
  o.init = init == "density"    ? quantize::Init::kDensity
           : init == "random"   ? quantize::Init::kRandom
           : init == "kmeans++" ? quantize::Init::kKmeansPlusPlus
                                : quantize::Init::kLinear;
  k.flag("exact", &o.exact);
  k.choice("method", {"kmeans", "uniform"}, &method);
  o.method = method == "uniform" ? quantize::Method::kUniform : quantize::Method::kKmeans;
  k.real("entropy", 0, 8, &o.entropy_target);
  k.integer("seed", 0, kMaxSeed, &o.seed);
  // As the command line records it (so that both write the same file).
  *pipeline_text = "quantize --bits " + std::to_string(o.bits) + " --init " + init +
                   (o.exact ? " --exact" : "") + " --method " + method;
  for (const auto& [name, bits] : o.layer_bits)
    *pipeline_text += " --layer-bits " + name + "=" + std::to_string(bits);
  check(quantize::check_option_dependencies(o, k.given()));
  return o;
}

}  // namespace sqz::python
