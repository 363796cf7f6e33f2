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

int cmd_eval(int argc, char** argv) {
  GlobalFlags flags;
  std::string model_path, prototxt, labels_path, label_file, dir;
  int threads = 1, limit = 0;
  bool force = false;
  PreprocessFlags pre_flags;
  po::options_description options("options");
  add_global_options(options, &flags);
  options.add_options()("model", po::value(&model_path)->required(), "model file")(
      "images", po::value(&dir)->required(),
      "folder of labelled images: '<wnid>_*.JPEG' files, class sub-folders, or --label-file")(
      "label-file", po::value(&label_file), "lines 'relative/path<TAB>class' (index or class id)")(
      "prototxt", po::value(&prototxt), "Caffe network definition for a .caffemodel or .net")(
      "labels", po::value(&labels_path),
      "class list, '<wnid> <name>' per line (default: synsets.txt beside the folder; without "
      "one, class folders are numbered in sorted order)")(
      "limit", ranged(&limit, 0, kMaxImages, "limit")->default_value(0),
      "use only the first N images (0: all)")("threads", thread_count(&threads)->default_value(1),
                                              "worker threads")(
      "force,f", po::bool_switch(&force),
      "use the preprocessing options even where the model records another");
  std::string input_shape;
  add_input_shape_option(options, &input_shape);
  add_preprocess_options(options, &pre_flags);
  po::variables_map vm;
  int code;
  if (!parse_args("eval", "MODEL --images DIR [--labels FILE]", options, {"model"}, argc, argv, &vm,
                  &code))
    return code;
  if (auto spec = preprocess_spec(pre_flags); !spec.is_ok())
    return usage_error("eval", spec.status().message());
  if (labels_path.empty()) labels_path = pipeline::default_class_list(dir);
  auto files = pipeline::list_dataset({dir, labels_path, label_file}, true);
  if (!files.is_ok()) return fail(files.status());
  pipeline::keep_first(&*files, limit);
  format::Metadata metadata;
  auto import = import_options(input_shape);
  if (!import.is_ok()) return usage_error("eval", import.status().message());
  import->sqz_codes_only = true;  // only run: the net packs a .sqz's codes straight
  Result<Model> model = load_any_model(model_path, prototxt, &metadata, *import);
  if (!model.is_ok()) return fail(model.status());
  if (Status st = refuse_calibration_images(model_path, metadata, files->files); !st.is_ok())
    return fail(st);
  auto classes = pipeline::class_count(*model);
  if (!classes.is_ok()) return fail(classes.status().with_context(model_path));
  if (Status st = pipeline::check_labels_fit(*files, *classes, model_path); !st.is_ok())
    return fail(st);
  runtime::NetOptions net_options;
  net_options.threads = threads;
  auto net = runtime::Net::create(*model, net_options);
  if (!net.is_ok()) return fail(net.status().with_context(model_path));
  std::string notice;
  auto pre = model_preprocess(model_path, (*net)->input_chw(), metadata, pre_flags, force, &notice);
  if (!pre.is_ok()) return preprocess_error("eval", pre.status());
  ConsoleObserver observer(flags.quiet, flags.verbose);
  pipeline::SkippedImages skipped = files->unusable;
  auto acc = pipeline::evaluate_images(**net, *pre, *files, &observer, &skipped);
  if (!acc.is_ok()) return fail(acc.status());
  if (acc->images == 0 && !skipped.empty())
    return fail(Status(ErrorCode::kCorrupt,
                       dir + ": no image could be used (" + skipped.front().second + ")"));
  if (!skipped.empty())
    print_notice("skipped " + std::to_string(skipped.size()) +
                     " image(s) that could not be used; the first: " + skipped.front().second,
                 flags.quiet);
  const long long counted = acc->images;
  const double t1 = 100.0 * acc->top1, t5 = 100.0 * acc->top5;
  print_notice(notice, flags.quiet);
  if (flags.json)
    std::printf(
        "{\"model\": %s, \"images\": %lld, \"top1\": %.4f, \"top5\": %.4f%s}\n",
        json_quote(model_path).c_str(), (long long)counted, t1 / 100, t5 / 100,
        skipped.empty() ? "" : (", \"skipped\": " + std::to_string(skipped.size())).c_str());
  else
    std::printf(
        "images %lld  top-1 %.2f%%  top-5 %.2f%%%s\n", (long long)counted, t1, t5,
        skipped.empty() ? "" : ("  (" + std::to_string(skipped.size()) + " skipped)").c_str());
  return kExitOk;
}

}  // namespace sqz::cli
