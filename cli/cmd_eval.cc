#include <cstdio>
#include <filesystem>

#include "commands.h"
#include "common.h"
#include "model_options.h"
#include "progress.h"
#include "sqz/pipeline/classify.h"
#include "sqz/pipeline/evaluate.h"
#include "sqz/pipeline/image_split.h"
#include "sqz/pipeline/labels.h"

namespace sqz::cli {

using pipeline::refuse_calibration_images;

namespace {

// What the command line gives.
struct EvalFlags {
  std::string model_path, prototxt, labels_path, label_file, dir, input_shape;
  int threads = 1, limit = 0;
  bool force = false;
  PreprocessFlags preprocess;
};

po::options_description eval_options(EvalFlags* f, GlobalFlags* flags) {
  po::options_description options("options");
  add_global_options(options, flags);
  options.add_options()("model", po::value(&f->model_path)->required(), "model file")(
      "images", po::value(&f->dir)->required(),
      "folder of labelled images: '<wnid>_*.JPEG' files, class sub-folders, or --label-file")(
      "label-file", po::value(&f->label_file),
      "lines 'relative/path<TAB>class' (index or class id)")(
      "prototxt", po::value(&f->prototxt), "Caffe network definition for a .caffemodel or .net")(
      "labels", po::value(&f->labels_path),
      "class list, '<wnid> <name>' per line (default: synsets.txt beside the folder; without "
      "one, class folders are numbered in sorted order)")(
      "limit", ranged(&f->limit, 0, kMaxImages, "limit")->default_value(0),
      "use only the first N images (0: all)")(
      "threads", thread_count(&f->threads)->default_value(1), "worker threads")(
      "force,f", po::bool_switch(&f->force),
      "use the preprocessing options even where the model records another");
  add_input_shape_option(options, &f->input_shape);
  add_preprocess_options(options, &f->preprocess);
  return options;
}

void print_accuracy(const std::string& model_path, const pipeline::Accuracy& acc,
                    const pipeline::SkippedImages& skipped, const GlobalFlags& flags) {
  const long long counted = acc.images;
  const double t1 = 100.0 * acc.top1, t5 = 100.0 * acc.top5;
  if (flags.json)
    std::printf(
        "{\"model\": %s, \"images\": %lld, \"top1\": %.4f, \"top5\": %.4f%s}\n",
        json_quote(model_path).c_str(), counted, t1 / 100, t5 / 100,
        skipped.empty() ? "" : (", \"skipped\": " + std::to_string(skipped.size())).c_str());
  else
    std::printf(
        "images %lld  top-1 %.2f%%  top-5 %.2f%%%s\n", counted, t1, t5,
        skipped.empty() ? "" : ("  (" + std::to_string(skipped.size()) + " skipped)").c_str());
}

// Runs the network over the dataset and prints its accuracy.
int evaluate_and_print(runtime::Net& net, const EvalFlags& f, const format::Metadata& metadata,
                       const pipeline::LabelledFiles& files, const GlobalFlags& flags) {
  std::string notice;
  auto pre =
      model_preprocess(f.model_path, net.input_chw(), metadata, f.preprocess, f.force, &notice);
  if (!pre.is_ok()) return preprocess_error("eval", pre.status());
  ConsoleObserver observer(flags.quiet, flags.verbose);
  pipeline::SkippedImages skipped = files.unusable;
  auto acc = pipeline::evaluate_images(net, *pre, files, &observer, &skipped);
  if (!acc.is_ok()) return fail(acc.status());
  if (acc->images == 0 && !skipped.empty())
    return fail(Status(ErrorCode::kCorrupt,
                       f.dir + ": no image could be used (" + skipped.front().second + ")"));
  if (!skipped.empty())
    print_notice("skipped " + std::to_string(skipped.size()) +
                     " image(s) that could not be used; the first: " + skipped.front().second,
                 flags.quiet);
  print_notice(notice, flags.quiet);
  print_accuracy(f.model_path, *acc, skipped, flags);
  return kExitOk;
}

}  // namespace

int cmd_eval(int argc, char** argv) {
  GlobalFlags flags;
  EvalFlags f;
  po::options_description options = eval_options(&f, &flags);
  po::variables_map vm;
  int code;
  if (!parse_args("eval", "MODEL --images DIR [--labels FILE]", options, {"model"}, argc, argv, &vm,
                  &code))
    return code;
  if (auto spec = preprocess_spec(f.preprocess); !spec.is_ok())
    return usage_error("eval", spec.status().message());
  if (f.labels_path.empty()) f.labels_path = pipeline::default_class_list(f.dir);
  auto files = pipeline::list_dataset({f.dir, f.labels_path, f.label_file}, true);
  if (!files.is_ok()) return fail(files.status());
  pipeline::keep_first(&*files, f.limit);
  format::Metadata metadata;
  auto import = import_options(f.input_shape);
  if (!import.is_ok()) return usage_error("eval", import.status().message());
  import->sqz_codes_only = true;  // only run: the net packs a .sqz's codes straight
  Result<Model> model = load_any_model(f.model_path, f.prototxt, &metadata, *import);
  if (!model.is_ok()) return fail(model.status());
  if (Status st = refuse_calibration_images(f.model_path, metadata, files->files); !st.is_ok())
    return fail(st);
  auto classes = pipeline::class_count(*model);
  if (!classes.is_ok()) return fail(classes.status().with_context(f.model_path));
  if (Status st = pipeline::check_labels_fit(*files, *classes, f.model_path); !st.is_ok())
    return fail(st);
  runtime::NetOptions net_options;
  net_options.threads = f.threads;
  auto net = runtime::Net::create(*model, net_options);
  if (!net.is_ok()) return fail(net.status().with_context(f.model_path));
  return evaluate_and_print(**net, f, metadata, *files, flags);
}

}  // namespace sqz::cli
