#include <cmath>
#include <cstdio>

#include "commands.h"
#include "common.h"
#include "model_options.h"
#include "output.h"
#include "sqz/pipeline/retrain_command.h"
#include "sqz/quantize/quantize.h"

namespace sqz::cli {
namespace {

Result<quantize::Init> parse_init(const std::string& s) {
  if (s == "linear") return quantize::Init::kLinear;
  if (s == "density") return quantize::Init::kDensity;
  if (s == "random") return quantize::Init::kRandom;
  if (s == "kmeans++") return quantize::Init::kKmeansPlusPlus;
  return Status(ErrorCode::kInvalidArgument,
                "--init must be linear, density, random or kmeans++, not '" + s + "'");
}

void print_metrics(const std::vector<quantize::LayerMetrics>& metrics, bool json) {
  if (json) {
    std::printf("[");
    for (size_t i = 0; i < metrics.size(); ++i) {
      const auto& m = metrics[i];
      std::printf(
          "%s\n {\"layer\": %s, \"bits\": %d, \"centroids\": %d, \"nonzeros\": %lld, "
          "\"rmse\": %.6g, \"sqnr_db\": %s, \"max_abs_error\": %.6g, \"entropy_bits\": %.4f}",
          i ? "," : "", json_quote(m.name).c_str(), m.bits, m.centroids_used, (long long)m.nonzeros,
          m.rmse, std::isfinite(m.sqnr_db) ? std::to_string(m.sqnr_db).c_str() : "null",
          m.max_abs_error, m.entropy_bits);
    }
    std::printf("\n]\n");
    return;
  }
  std::printf("%-22s %4s %9s %9s %11s %9s %11s %9s\n", "layer", "bits", "centroids", "non-zero",
              "RMSE", "SQNR dB", "max |err|", "H bits");
  for (const auto& m : metrics)
    std::printf("%-22s %4d %9d %9lld %11.3g %9.2f %11.3g %9.3f\n", printable(m.name).c_str(),
                m.bits, m.centroids_used, (long long)m.nonzeros, m.rmse, m.sqnr_db, m.max_abs_error,
                m.entropy_bits);
}

// What the command line gives, beside the options typed straight into QuantizeOptions.
struct QuantizeFlags {
  std::string model_path, prototxt, out, init = "linear", method = "kmeans", retrain_cmd;
  std::string input_shape;
  std::vector<std::string> layer_bits;
  bool force = false;
  PreprocessFlags preprocess;
};

po::options_description quantize_options(QuantizeFlags* f, quantize::QuantizeOptions* o,
                                         GlobalFlags* flags) {
  po::options_description options("options");
  add_global_options(options, flags, RunsNetworks::kNo);
  options.add_options()("model", po::value(&f->model_path)->required(), "model file")(
      "prototxt", po::value(&f->prototxt), "Caffe network definition for a .caffemodel or .net")(
      "bits,b", ranged(&o->bits, 1, 8, "bits")->default_value(8),
      "codebook index bits per layer, 1..8")(
      "layer-bits", po::value(&f->layer_bits)->composing(),
      "NAME=BITS for one layer (repeatable; 0 keeps it float32)")(
      "init", po::value(&f->init)->default_value("linear"),
      "linear | density | random | kmeans++")(
      "exact", po::bool_switch(&o->exact), "optimal 1-D k-means (dynamic programming)")(
      "method", po::value(&f->method)->default_value("kmeans"),
      "kmeans | uniform (entropy-targeted uniform grid)")(
      "entropy", ranged(&o->entropy_target, 0, 8, "entropy")->default_value(0.0),
      "uniform: target bits per weight (default 0.75 x bits)")(
      "seed", ranged(&o->seed, 0, kMaxSeed, "seed")->default_value(1),
      "seed for random and kmeans++ inits")(
      "output,o", po::value(&f->out)->required(), "output .sqz")(
      "force,f", po::bool_switch(&f->force), "overwrite an existing output")(
      "retrain-cmd", po::value(&f->retrain_cmd),
      "after weight sharing, train the centroids with this command (codes fixed; {in} {masks} "
      "{codes} {out}, e.g. python3 -m squeeze_compress.torch_retrain --centroids ...)");
  add_input_shape_option(options, &f->input_shape);
  add_preprocess_options(options, &f->preprocess, false);
  add_record_option(options, &f->preprocess);
  return options;
}

// Types the textual flags into *o; the message of a usage error.
Status finish_quantize_options(const QuantizeFlags& f, quantize::QuantizeOptions* o) {
  SQZ_ASSIGN_OR_RETURN(o->layer_bits, parse_layer_bits(f.layer_bits));
  SQZ_ASSIGN_OR_RETURN(o->init, parse_init(f.init));
  SQZ_RETURN_ERROR_IF(f.method != "kmeans" && f.method != "uniform", ErrorCode::kInvalidArgument,
                      "--method must be kmeans or uniform");
  o->method = f.method == "uniform" ? quantize::Method::kUniform : quantize::Method::kKmeans;
  SQZ_RETURN_IF_ERROR(preprocess_spec(f.preprocess).status());
  return require_sqz_output(f.out);
}

// The settings line recorded in the file's metadata.
std::string quantize_pipeline(const QuantizeFlags& f, const quantize::QuantizeOptions& o) {
  std::string pipeline = "quantize --bits " + std::to_string(o.bits) + " --init " + f.init +
                         (o.exact ? " --exact" : "") + " --method " + f.method;
  for (const auto& item : f.layer_bits) pipeline += " --layer-bits " + item;
  return pipeline;
}

}  // namespace

int cmd_quantize(int argc, char** argv) {
  GlobalFlags flags;
  QuantizeFlags f;
  quantize::QuantizeOptions o;
  po::options_description options = quantize_options(&f, &o, &flags);
  po::variables_map vm;
  int code;
  if (!parse_args("quantize", "MODEL --bits B [--layer-bits NAME=B ...] -o OUT.sqz", options,
                  {"model"}, argc, argv, &vm, &code))
    return code;
  if (Status s = finish_quantize_options(f, &o); !s.is_ok())
    return usage_error("quantize", s.message());
  if (Status s = quantize::check_option_dependencies(o, given_names(vm)); !s.is_ok())
    return usage_error("quantize", s.message());
  if (Status s = check_output_path(f.out, f.force); !s.is_ok()) return fail(s);
  format::Metadata input_metadata;
  auto import = import_options(f.input_shape);
  if (!import.is_ok()) return usage_error("quantize", import.status().message());
  Result<Model> model = load_any_model(f.model_path, f.prototxt, &input_metadata, *import);
  if (!model.is_ok()) return fail(model.status());
  if (Status s = quantize::check_options(*model, o); !s.is_ok())
    return fail(s.with_context(f.model_path));
  std::string record_notice;
  auto metadata = output_metadata(f.model_path, *model, input_metadata, f.preprocess,
                                  quantize_pipeline(f, o), &record_notice);
  if (!metadata.is_ok()) return preprocess_error("quantize", metadata.status());
  auto metrics = quantize::quantize_model(*model, o);
  if (!metrics.is_ok()) return fail(metrics.status().with_context(f.model_path));
  if (!f.retrain_cmd.empty())
    if (Status s = pipeline::retrain_centroids_by_command(*model, f.retrain_cmd, flags.verbose,
                                                          *metadata);
        !s.is_ok())
      return fail(s);
  auto file = write_sqz_file(*model, f.out, *metadata, f.force);
  if (!file.is_ok()) return fail(file.status());
  print_metrics(*metrics, flags.json);
  if (!flags.json)
    std::printf("wrote %s (%llu bytes)\n", printable(f.out).c_str(),
                (unsigned long long)file->file_bytes);
  print_notice(record_notice, flags.quiet);
  return kExitOk;
}

}  // namespace sqz::cli
