#include <sys/stat.h>

#include <cstdio>

#include "commands.h"
#include "common.h"
#include "model_options.h"
#include "output.h"
#include "sqz/core/file_io.h"
#include "sqz/format/sqz_file.h"

namespace sqz::cli {
namespace {

std::string geometry(const Layer& l) {
  char buf[64] = "";
  if (l.op == OpKind::kConvolution)
    std::snprintf(buf, sizeof buf, "k%lldx%lld s%lld p%lld", (long long)l.conv.kernel_h,
                  (long long)l.conv.kernel_w, (long long)l.conv.stride_h, (long long)l.conv.pad_h);
  else if ((l.op == OpKind::kMaxPool || l.op == OpKind::kAvgPool) && l.pool.global)
    std::snprintf(buf, sizeof buf, "global");
  else if (l.op == OpKind::kMaxPool || l.op == OpKind::kAvgPool)
    std::snprintf(buf, sizeof buf, "k%lld s%lld p%lld", (long long)l.pool.kernel_h,
                  (long long)l.pool.stride_h, (long long)l.pool.pad_h);
  return buf;
}

void print_text(const std::string& path, int64_t file_bytes, const Model& m,
                const std::map<std::string, Shape>& shapes) {
  std::printf("model   %s (%lld bytes)\n", printable(path).c_str(), (long long)file_bytes);
  std::printf("input   %s %s\noutput  %s %s\n\n", printable(m.input).c_str(),
              shape_to_string(shapes.at(m.input)).c_str(), printable(m.output).c_str(),
              shape_to_string(shapes.at(m.output)).c_str());
  std::printf("%-24s %-12s %-14s %-20s %10s %10s %8s\n", "layer", "op", "geometry", "output",
              "weights", "non-zero", "density");
  for (const Layer& l : m.layers) {
    std::printf("%-24s %-12s %-14s %-20s", printable(l.name).c_str(), op_name(l.op),
                geometry(l).c_str(),
                shape_to_string(shapes.at(l.output)).c_str());
    if (l.op == OpKind::kConvolution) {
      const int64_t n = l.weight.numel(), nz = l.weight.count_nonzero();
      std::printf(" %10lld %10lld %7.1f%%", (long long)n, (long long)nz, n ? 100.0 * nz / n : 0.0);
    }
    std::printf("\n");
  }
  const int64_t n = m.weight_count(), nz = m.nonzero_weight_count();
  std::printf(
      "\nweights %lld, non-zero %lld (density %.1f%%), biases %lld, dense float32 %lld bytes\n",
      (long long)n, (long long)nz, n ? 100.0 * nz / n : 0.0, (long long)m.bias_count(),
      (long long)(4 * (n + m.bias_count())));
}

void print_json(const std::string& path, int64_t file_bytes, const Model& m,
                const std::map<std::string, Shape>& shapes) {
  std::printf(
      "{\"model\": %s, \"file_bytes\": %lld, \"input\": %s, \"output\": %s,\n \"layers\": [",
      json_quote(path).c_str(), (long long)file_bytes, json_quote(m.input).c_str(),
      json_quote(m.output).c_str());
  for (size_t i = 0; i < m.layers.size(); ++i) {
    const Layer& l = m.layers[i];
    std::printf("%s\n  {\"name\": %s, \"op\": %s, \"output_shape\": %s", i ? "," : "",
                json_quote(l.name).c_str(), json_quote(op_name(l.op)).c_str(),
                shape_to_string(shapes.at(l.output)).c_str());
    if (l.op == OpKind::kConvolution)
      std::printf(", \"weights\": %lld, \"nonzero\": %lld", (long long)l.weight.numel(),
                  (long long)l.weight.count_nonzero());
    std::printf("}");
  }
  std::printf("],\n \"weights\": %lld, \"nonzero\": %lld, \"biases\": %lld}\n",
              (long long)m.weight_count(), (long long)m.nonzero_weight_count(),
              (long long)m.bias_count());
}

}  // namespace

int cmd_info(int argc, char** argv) {
  GlobalFlags flags;
  std::string model_path, prototxt;
  po::options_description options("options");
  add_global_options(options, &flags, RunsNetworks::kNo);
  std::string input_shape;
  add_input_shape_option(options, &input_shape);
  options.add_options()("model", po::value(&model_path)->required(), "model file")(
      "prototxt", po::value(&prototxt), "Caffe network definition for a .caffemodel or .net");
  po::variables_map vm;
  int code;
  if (!parse_args("info", "MODEL [--prototxt FILE] [--json]", options, {"model"}, argc, argv, &vm,
                  &code))
    return code;
  auto import = import_options(input_shape);
  if (!import.is_ok()) return usage_error("info", import.status().message());
  if (file_extension(model_path) == ".sqz") {
    if (!prototxt.empty())
      return usage_error("info",
                         "--prototxt is for a .caffemodel or .net model, not for " + model_path);
    auto f = format::read_sqz(model_path);
    if (!f.is_ok()) return fail(f.status());
    if (!import->input_shape.empty()) f->model.input_shape = import->input_shape;
    auto shapes = validate_and_infer(f->model);
    if (!shapes.is_ok()) return fail(shapes.status().with_context(model_path));
    if (flags.json) {
      print_ledger(*f, true);
      return kExitOk;
    }
    print_text(model_path, static_cast<int64_t>(f->file_bytes), f->model, *shapes);
    std::printf("\n");
    for (const auto& [k, v] : f->metadata) {
      // Long values (a CRC per calibration image) are cut; --json prints them whole.
      constexpr size_t kShown = 160;
      if (v.size() <= kShown)
        std::printf("%-16s %s\n", printable(k).c_str(), printable(v).c_str());
      else
        std::printf("%-16s %s... (%zu characters)\n", printable(k).c_str(),
                    printable(v.substr(0, kShown)).c_str(),
                    v.size());
    }
    std::printf("\n");
    print_ledger(*f, false);
    return kExitOk;
  }
  Result<Model> model = load_any_model(model_path, prototxt, nullptr, *import);
  if (!model.is_ok()) return fail(model.status());
  auto shapes = validate_and_infer(*model);
  if (!shapes.is_ok()) return fail(shapes.status().with_context(model_path));
  struct stat st {};
  ::stat(model_path.c_str(), &st);
  if (flags.json)
    print_json(model_path, st.st_size, *model, *shapes);
  else
    print_text(model_path, st.st_size, *model, *shapes);
  return kExitOk;
}

}  // namespace sqz::cli
