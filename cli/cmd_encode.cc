#include <cstdio>

#include "commands.h"
#include "common.h"
#include "model_options.h"
#include "output.h"
#include "sqz/quantize/quantize.h"

namespace sqz::cli {

namespace {

// Lossless: layers whose non-zeros take <= 256 values get a codebook, the rest stay float32.
// Counts each kind in *shared (with the layers that had a codebook already) and *kept.
void adopt_codebooks(Model* model, bool verbose, int* shared, int* kept) {
  for (Layer& l : model->layers) {
    if (l.op != OpKind::kConvolution) continue;
    if (l.quant.active()) {
      ++*shared;
      continue;
    }
    Layer trial = l;
    if (quantize::adopt_existing_values(trial).is_ok()) {
      l = std::move(trial);
      ++*shared;
      continue;
    }
    ++*kept;
    if (verbose)
      std::fprintf(stderr, "layer '%s': more than 256 distinct values, stored as float32\n",
                   printable(l.name).c_str());
  }
}

}  // namespace

int cmd_encode(int argc, char** argv) {
  GlobalFlags flags;
  std::string model_path, prototxt, out;
  bool force = false, compare = false;
  PreprocessFlags pre_flags;
  po::options_description options("options");
  add_global_options(options, &flags, RunsNetworks::kNo);
  options.add_options()("model", po::value(&model_path)->required(), "model file")(
      "prototxt", po::value(&prototxt), "Caffe network definition for a .caffemodel or .net")(
      "output,o", po::value(&out)->required(), "output .sqz file")(
      "force,f", po::bool_switch(&force), "overwrite an existing output")(
      "compare-zstd", po::bool_switch(&compare), "also report zstd -22 on each stream (slower)");
  std::string input_shape;
  add_input_shape_option(options, &input_shape);
  add_preprocess_options(options, &pre_flags, false);
  add_record_option(options, &pre_flags);
  po::variables_map vm;
  int code;
  if (!parse_args("encode", "MODEL [--prototxt FILE] -o OUT.sqz", options, {"model"}, argc, argv,
                  &vm, &code))
    return code;
  if (auto spec = preprocess_spec(pre_flags); !spec.is_ok())
    return usage_error("encode", spec.status().message());
  if (Status s = require_sqz_output(out); !s.is_ok()) return usage_error("encode", s.message());
  if (Status s = check_output_path(out, force); !s.is_ok()) return fail(s);
  format::Metadata input_metadata;
  auto import = import_options(input_shape);
  if (!import.is_ok()) return usage_error("encode", import.status().message());
  Result<Model> model = load_any_model(model_path, prototxt, &input_metadata, *import);
  if (!model.is_ok()) return fail(model.status());
  std::string record_notice;
  auto metadata = output_metadata(model_path, *model, input_metadata, pre_flags,
                                  "encode (lossless)", &record_notice);
  if (!metadata.is_ok()) return preprocess_error("encode", metadata.status());
  int shared = 0, kept = 0;
  adopt_codebooks(&*model, flags.verbose, &shared, &kept);
  auto file = write_sqz_file(*model, out, *metadata, force, compare);
  if (!file.is_ok()) return fail(file.status());
  if (!flags.quiet) std::fprintf(stderr, "%d layers with codebooks, %d float32\n", shared, kept);
  if (flags.json) {
    print_ledger(*file, true);
  } else {
    print_ledger(*file, false);
    std::printf("wrote %s (%llu bytes)\n", printable(out).c_str(),
                (unsigned long long)file->file_bytes);
  }
  print_notice(record_notice, flags.quiet);
  return kExitOk;
}

int cmd_decode(int argc, char** argv) {
  GlobalFlags flags;
  std::string in, out;
  bool force = false;
  po::options_description options("options");
  add_global_options(options, &flags, RunsNetworks::kNo);
  options.add_options()("model", po::value(&in)->required(), "input .sqz (or any model)")(
      "output,o", po::value(&out)->required(), "output .onnx or .caffemodel (dense float32)")(
      "force,f", po::bool_switch(&force), "overwrite an existing output");
  po::variables_map vm;
  int code;
  if (!parse_args("decode", "IN.sqz -o OUT.onnx|OUT.caffemodel", options, {"model"}, argc, argv,
                  &vm, &code))
    return code;
  if (Status s = check_output_path(out, force); !s.is_ok()) return fail(s);
  format::Metadata input_metadata;
  Result<Model> model = load_any_model(in, "", &input_metadata);
  if (!model.is_ok()) return fail(model.status());
  // The preprocessing the input records travels on (into the ONNX metadata_props).
  std::string unused_notice;
  auto metadata = output_metadata(in, *model, input_metadata, {}, "decode", &unused_notice);
  if (!metadata.is_ok()) return fail(metadata.status());
  if (Status s = write_model_file(*model, out, force, *metadata); !s.is_ok()) return fail(s);
  if (flags.json)
    std::printf("{\"output\": %s}\n", json_quote(out).c_str());
  else if (!flags.quiet)
    std::printf("wrote %s\n", printable(out).c_str());
  return kExitOk;
}

}  // namespace sqz::cli
