#include <cstdio>
#include <filesystem>

#include "sqz/pipeline/classify.h"
#include "commands.h"
#include "common.h"
#include "sqz/pipeline/image_split.h"
#include "sqz/pipeline/labels.h"
#include "progress.h"

namespace sqz::cli {

using pipeline::Labels;
using pipeline::label_from_filename;
using pipeline::list_images;
using pipeline::load_input;
using pipeline::preprocess_for;
using pipeline::read_labels;
using pipeline::refuse_calibration_images;
using pipeline::top_k;

int cmd_eval(int argc, char** argv) {
  GlobalFlags flags;
  std::string model_path, prototxt, labels_path, dir;
  int threads = 1, limit = 0;
  po::options_description options("options");
  add_global_options(options, &flags);
  options.add_options()("model", po::value(&model_path)->required(), "model file")(
      "images", po::value(&dir)->required(), "folder of images named '<wnid>_*.JPEG'")(
      "prototxt", po::value(&prototxt), "Caffe network definition for a .caffemodel or .net")(
      "labels", po::value(&labels_path),
      "class list, '<wnid> <name>' per line (default: synsets.txt beside the folder)")(
      "limit", po::value(&limit)->default_value(0), "use only the first N images (0: all)")(
      "threads", po::value(&threads)->default_value(1), "worker threads");
  po::variables_map vm;
  int code;
  if (!parse_args("eval", "MODEL --images DIR [--labels FILE]", options, {"model"}, argc, argv, &vm,
                  &code))
    return code;
  if (threads < 1) return usage_error("eval", "--threads must be at least 1");
  if (labels_path.empty())
    labels_path = (std::filesystem::path(dir).parent_path() / "synsets.txt").string();
  Result<Labels> labels = read_labels(labels_path);
  if (!labels.is_ok()) return fail(labels.status());
  auto files = list_images(dir);
  if (!files.is_ok()) return fail(files.status());
  if (limit > 0 && files->size() > static_cast<size_t>(limit)) files->resize(limit);
  if (files->empty()) return fail(Status(ErrorCode::kNotFound, dir + ": no images"));
  format::Metadata metadata;
  Result<Model> model = load_any_model(model_path, prototxt, &metadata);
  if (!model.is_ok()) return fail(model.status());
  if (Status st = refuse_calibration_images(model_path, metadata, *files); !st.is_ok())
    return fail(st);
  auto net = rt::Net::create(*model, {threads});
  if (!net.is_ok()) return fail(net.status().with_context(model_path));
  auto pre = preprocess_for((*net)->input_chw());
  if (!pre.is_ok()) return fail(pre.status().with_context(model_path));

  const int n = static_cast<int>((*net)->output_size());
  int64_t top1 = 0, top5 = 0, counted = 0;
  Progress progress("eval", static_cast<int64_t>(files->size()), !flags.quiet);
  for (size_t i = 0; i < files->size(); ++i) {
    const std::string& path = (*files)[i];
    const int label = label_from_filename(*labels, path);
    if (label < 0)
      return fail(Status(ErrorCode::kNotFound,
                         path + ": its name does not start with a class id from " + labels_path));
    auto in = load_input(path, *pre);
    if (!in.is_ok()) return fail(in.status());
    std::vector<float> out;
    Status s = (*net)->forward(in->data(), 1, &out);
    if (!s.is_ok()) return fail(s);
    std::vector<int> best = top_k(out.data(), n, 5);
    top1 += best[0] == label;
    top5 += std::find(best.begin(), best.end(), label) != best.end();
    ++counted;
    progress.update(counted);
  }
  progress.finish();
  const double t1 = 100.0 * top1 / counted, t5 = 100.0 * top5 / counted;
  if (flags.json)
    std::printf("{\"model\": %s, \"images\": %lld, \"top1\": %.4f, \"top5\": %.4f}\n",
                json_quote(model_path).c_str(), (long long)counted, t1 / 100, t5 / 100);
  else
    std::printf("images %lld  top-1 %.2f%%  top-5 %.2f%%\n", (long long)counted, t1, t5);
  return kExitOk;
}

}  // namespace sqz::cli
