#include <cstdio>

#include "sqz/pipeline/classify.h"
#include "commands.h"
#include "common.h"
#include "sqz/pipeline/labels.h"

namespace sqz::cli {

using pipeline::Labels;
using pipeline::load_input;
using pipeline::read_labels;
using pipeline::top_k;

int cmd_run(int argc, char** argv) {
  GlobalFlags flags;
  std::string model_path, prototxt, labels_path;
  std::vector<std::string> images;
  int top = 5, threads = 1;
  bool force = false;
  PreprocessFlags pre_flags;
  po::options_description options("options");
  add_global_options(options, &flags);
  options.add_options()("model", po::value(&model_path)->required(), "model file")(
      "images", po::value(&images)->required(), "image files (JPEG or PNG)")(
      "prototxt", po::value(&prototxt), "Caffe network definition for a .caffemodel or .net")(
      "labels", po::value(&labels_path), "class names, '<id> <name>' per line (synsets.txt)")(
      "top", po::value(&top)->default_value(5), "how many classes to print per image")(
      "threads", po::value(&threads)->default_value(1), "worker threads")(
      "force,f", po::bool_switch(&force),
      "use the preprocessing options even where the model records another");
  add_preprocess_options(options, &pre_flags);
  po::variables_map vm;
  int code;
  if (!parse_args("run", "MODEL IMAGE... [--labels FILE] [--top K]", options, {"model", "images"},
                  argc, argv, &vm, &code))
    return code;
  if (top < 1) return usage_error("run", "--top must be at least 1");
  if (threads < 1) return usage_error("run", "--threads must be at least 1");
  if (auto spec = preprocess_spec(pre_flags); !spec.is_ok())
    return usage_error("run", spec.status().message());
  Labels labels;
  if (!labels_path.empty()) {
    Result<Labels> l = read_labels(labels_path);
    if (!l.is_ok()) return fail(l.status());
    labels = std::move(l).value();
  }
  format::Metadata metadata;
  Result<Model> model = load_any_model(model_path, prototxt, &metadata);
  if (!model.is_ok()) return fail(model.status());
  auto net = rt::Net::create(*model, {threads});
  if (!net.is_ok()) return fail(net.status().with_context(model_path));
  std::string notice;
  auto pre = model_preprocess(model_path, (*net)->input_chw(), metadata, pre_flags, force,
                              &notice);
  if (!pre.is_ok()) return preprocess_error("run", pre.status());
  // Decode everything first: a bad image fails the command before any output.
  std::vector<std::vector<float>> inputs;
  for (const std::string& path : images) {
    auto in = load_input(path, *pre);
    if (!in.is_ok()) return fail(in.status());
    inputs.push_back(std::move(in).value());
  }
  const int n = static_cast<int>((*net)->output_size());
  print_notice(notice, flags.quiet);
  if (flags.json) std::printf("[");
  for (size_t i = 0; i < images.size(); ++i) {
    std::vector<float> out;
    Status s = (*net)->forward(inputs[i].data(), 1, &out);
    if (!s.is_ok()) return fail(s);
    std::vector<int> best = top_k(out.data(), n, top);
    if (flags.json) {
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
    std::printf("%s\n", images[i].c_str());
    for (int c : best)
      std::printf("  %4d  %10.4f  %s\n", c, out[c],
                  labels.names.size() > static_cast<size_t>(c) ? labels.names[c].c_str() : "");
  }
  if (flags.json) std::printf("\n]\n");
  return kExitOk;
}

}  // namespace sqz::cli
