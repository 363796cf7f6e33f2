#include <cstdio>
#include <cstring>

#include "commands.h"
#include "common.h"
#include "model_options.h"
#include "output.h"
#include "sqz/core/file_io.h"
#include "sqz/pipeline/classify.h"
#include "sqz/pipeline/evaluate.h"
#include "sqz/pipeline/labels.h"

namespace sqz::cli {

using pipeline::Labels;
using pipeline::load_input;
using pipeline::read_labels;
using pipeline::top_k;

namespace {

// Raw float32 NCHW in, raw float32 scores out: for checking a model against another engine.
int run_tensor(runtime::Net& net, const std::string& in_path, const std::string& out_path,
               bool force, bool quiet) {
  const int64_t per_image = shape_numel(net.input_chw());
  auto bytes = read_file(in_path);
  if (!bytes.is_ok()) return fail(bytes.status());
  const auto floats = static_cast<int64_t>(bytes->size() / 4);
  if (bytes->size() % 4 != 0 || floats == 0 || floats % per_image != 0)
    return fail(Status(ErrorCode::kInvalidArgument,
                       in_path + ": " + std::to_string(bytes->size()) +
                           " bytes are not a whole number of float32 inputs of " +
                           shape_to_string(net.input_chw())));
  const int64_t batch = floats / per_image;
  std::vector<float> in(static_cast<size_t>(floats)), out;
  std::memcpy(in.data(), bytes->data(), bytes->size());
  // In passes of a few images: any count of inputs runs within the activation budget.
  if (Status s = pipeline::forward_batched(net, in.data(), batch, &out,
                                           pipeline::batch_for_input(per_image));
      !s.is_ok())
    return fail(s.with_context(in_path));
  const std::string raw(reinterpret_cast<const char*>(out.data()), out.size() * sizeof(float));
  if (Status s = write_file_atomic(out_path, raw, force); !s.is_ok()) return fail(s);
  if (!quiet)
    std::fprintf(stderr, "wrote %s (%lld x %lld float32)\n", printable(out_path).c_str(),
                 (long long)batch, (long long)net.output_size());
  return kExitOk;
}

// Each image's top classes (with their names where labels has them), as text or JSON.
// inputs: the images, preprocessed. Every image runs before anything is printed: a failing
// pass (outputs that are not finite) is an error naming its image, with no partial output.
Status print_classes(runtime::Classifier& classifier, const std::vector<std::string>& images,
                     const std::vector<std::vector<float>>& inputs, const Labels& labels, int top,
                     bool json) {
  std::vector<std::vector<float>> outputs(images.size());
  for (size_t i = 0; i < images.size(); ++i)
    SQZ_RETURN_IF_ERROR(pipeline::forward_named(classifier.net(), inputs[i].data(), 1, &outputs[i],
                                                [&](int64_t) { return images[i]; }));
  if (json) std::printf("[");
  for (size_t i = 0; i < images.size(); ++i) {
    const std::vector<float>& out = outputs[i];
    std::vector<int> best = top_k(out.data(), static_cast<int64_t>(out.size()), top);
    if (json) {
      std::printf("%s\n {\"image\": %s, \"top\": [", i ? "," : "", json_quote(images[i]).c_str());
      for (size_t k = 0; k < best.size(); ++k) {
        const int c = best[k];
        std::printf("%s{\"class\": %d, \"score\": %.6g%s%s}", k ? ", " : "", c, out[c],
                    labels.names.size() > static_cast<size_t>(c) ? ", \"label\": " : "",
                    labels.names.size() > static_cast<size_t>(c)
                        ? json_quote(labels.names[c]).c_str()
                        : "");
      }
      std::printf("]}");
      continue;
    }
    std::printf("%s\n", printable(images[i]).c_str());
    for (int c : best)
      std::printf(
          "  %4d  %10.4f  %s\n", c, out[c],
          labels.names.size() > static_cast<size_t>(c) ? printable(labels.names[c]).c_str() : "");
  }
  if (json) std::printf("\n]\n");
  return Status::ok();
}

// What the command line gives.
struct RunFlags {
  std::string model_path, prototxt, labels_path, input_tensor, output_tensor, input_shape;
  std::vector<std::string> images;
  int top = 5, threads = 1;
  bool force = false, top_given = false;
  PreprocessFlags preprocess;
};

po::options_description run_options(RunFlags* f, GlobalFlags* flags) {
  po::options_description options("options");
  add_global_options(options, flags);
  options.add_options()("model", po::value(&f->model_path)->required(), "model file")(
      "images", po::value(&f->images), "image files (JPEG or PNG)")(
      "input-tensor", po::value(&f->input_tensor),
      "instead of images: raw float32 NCHW inputs (any batch), already preprocessed")(
      "output-tensor", po::value(&f->output_tensor),
      "with --input-tensor: write the raw float32 outputs here")(
      "prototxt", po::value(&f->prototxt), "Caffe network definition for a .caffemodel or .net")(
      "labels", po::value(&f->labels_path), "class names, '<id> <name>' per line (synsets.txt)")(
      "top", ranged(&f->top, 1, 1e6, "top")->default_value(5),
      "how many classes to print per image")("threads", thread_count(&f->threads)->default_value(1),
                                             "worker threads")(
      "force,f", po::bool_switch(&f->force),
      "use the preprocessing options even where the model records another");
  add_input_shape_option(options, &f->input_shape);
  add_preprocess_options(options, &f->preprocess);
  return options;
}

// The usage errors between options, or an empty string.
std::string run_usage_problem(const RunFlags& f) {
  if (f.top < 1) return "--top must be at least 1";
  if (f.input_tensor.empty() == f.images.empty())
    return "give image files or --input-tensor (with --output-tensor)";
  if (f.input_tensor.empty() != f.output_tensor.empty())
    return "--input-tensor and --output-tensor go together";
  if (!f.input_tensor.empty() && !f.labels_path.empty())
    return "--labels names the classes of image files; --input-tensor writes raw scores";
  if (!f.input_tensor.empty() && f.top_given)
    return "--top picks the classes of image files; --input-tensor writes every score";
  return "";
}

// Decodes every image first (a bad one fails the command before any output), then prints
// each one's top classes.
int classify_images(runtime::Classifier& classifier, const RunFlags& f,
                    const format::Metadata& metadata, const Labels& labels,
                    const GlobalFlags& flags) {
  runtime::Net& net = classifier.net();
  std::string notice;
  auto pre =
      model_preprocess(f.model_path, net.input_chw(), metadata, f.preprocess, f.force, &notice);
  if (!pre.is_ok()) return preprocess_error("run", pre.status());
  std::vector<std::vector<float>> inputs;
  for (const std::string& path : f.images) {
    auto in = load_input(path, *pre);
    if (!in.is_ok()) return fail(in.status());
    inputs.push_back(std::move(in).value());
  }
  const int n = static_cast<int>(net.output_size());
  if (!labels.names.empty() && labels.names.size() != static_cast<size_t>(n))
    return fail(Status(ErrorCode::kInvalidArgument, f.labels_path + ": the class list names " +
                                                        std::to_string(labels.names.size()) +
                                                        " classes, but " + f.model_path + " has " +
                                                        std::to_string(n) + " outputs"));
  print_notice(notice, flags.quiet);
  if (Status st = print_classes(classifier, f.images, inputs, labels, f.top, flags.json);
      !st.is_ok())
    return fail(st);
  return kExitOk;
}

}  // namespace

int cmd_run(int argc, char** argv) {
  GlobalFlags flags;
  RunFlags f;
  po::options_description options = run_options(&f, &flags);
  po::variables_map vm;
  int code;
  if (!parse_args("run",
                  "MODEL IMAGE... [--labels FILE] [--top K] | MODEL --input-tensor IN.f32 "
                  "--output-tensor OUT.f32",
                  options, {"model", "images"}, argc, argv, &vm, &code))
    return code;
  f.top_given = !vm["top"].defaulted();
  if (const std::string problem = run_usage_problem(f); !problem.empty())
    return usage_error("run", problem);
  auto import = import_options(f.input_shape);
  if (!import.is_ok()) return usage_error("run", import.status().message());
  if (auto spec = preprocess_spec(f.preprocess); !spec.is_ok())
    return usage_error("run", spec.status().message());
  if (const std::string pre = given_preprocess_flag(vm); !f.input_tensor.empty() && !pre.empty())
    return usage_error("run", pre +
                                  " is for image files; --input-tensor takes inputs already "
                                  "preprocessed");
  Labels labels;
  if (!f.labels_path.empty()) {
    Result<Labels> l = read_labels(f.labels_path);
    if (!l.is_ok()) return fail(l.status());
    labels = std::move(l).value();
  }
  format::Metadata metadata;
  import->sqz_codes_only = true;  // only run: the net packs a .sqz's codes straight
  Result<Model> model = load_any_model(f.model_path, f.prototxt, &metadata, *import);
  if (!model.is_ok()) return fail(model.status());
  runtime::ClassifierOptions copts;
  copts.net.threads = f.threads;
  copts.follow_record = false;  // resolved in classify_images, with the options and --force
  auto classifier = runtime::Classifier::create(*model, metadata, copts);
  if (!classifier.is_ok()) return fail(classifier.status().with_context(f.model_path));
  if (f.input_tensor.empty()) return classify_images(**classifier, f, metadata, labels, flags);
  if (Status s = check_output_path(f.output_tensor, f.force); !s.is_ok()) return fail(s);
  return run_tensor((*classifier)->net(), f.input_tensor, f.output_tensor, f.force, flags.quiet);
}

}  // namespace sqz::cli
