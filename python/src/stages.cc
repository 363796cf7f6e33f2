#include "stages.h"

#include <pybind11/stl.h>
#include <sys/stat.h>

#include <filesystem>

#include "errors.h"
#include "py_observer.h"
#include "options.h"
#include "sqz/core/file_io.h"
#include "sqz/pipeline/compress.h"
#include "sqz/pipeline/model_io.h"
#include "sqz/pipeline/report.h"
#include "sqz/pipeline/retrain_command.h"
#include "sqz/report/stage_table.h"

namespace sqz::python {
namespace {

// The output may be replaced only with force, must be a regular file where it exists, and
// its folder must exist; `sqz_only`: the stage writes a .sqz.
void check_output(const std::string& out, bool force, bool sqz_only) {
  if (out.empty()) raise_invalid("the output path is empty");
  if (sqz_only && std::filesystem::path(out).extension() != ".sqz")
    raise_invalid(out + ": this writes a .sqz (name the output *.sqz)");
  struct stat st {};
  if (::stat(out.c_str(), &st) == 0) {
    if (!force) raise_status(Status(ErrorCode::kIo, out + ": already exists (force=True replaces it)"));
    if (!S_ISREG(st.st_mode)) raise_invalid(out + ": exists and is not a regular file");
  }
  const std::filesystem::path dir = std::filesystem::path(out).parent_path();
  std::error_code ec;
  if (!dir.empty() && !std::filesystem::is_directory(dir, ec))
    raise_status(Status(ErrorCode::kIo, out + ": folder '" + dir.string() + "' does not exist"));
}

py::object json_value(const std::string& text) {
  return py::module_::import("json").attr("loads")(text);
}

// Runs f (returning Status) without the GIL; raises what cancelled it, or its error.
template <typename F>
void run_released(PyObserver& observer, F f) {
  Status s;
  {
    py::gil_scoped_release release;
    s = f();
  }
  observer.rethrow();
  check(s);
}

struct Loaded {
  Model model;
  format::Metadata metadata;
};

Loaded load(const std::string& path, Keywords& k) {
  std::string prototxt;
  k.text("prototxt", &prototxt);
  const import::ImportOptions import = import_option(k);
  Loaded l;
  Result<Model> m = Status::ok();
  {
    py::gil_scoped_release release;
    m = pipeline::load_any_model(path, prototxt, &l.metadata, import);
  }
  l.model = value_or_raise(std::move(m));
  return l;
}

format::Metadata output_metadata(const std::string& path, const Loaded& l, Keywords& k,
                                 const std::string& pipeline_text, py::object progress) {
  bool re_record = false;
  const auto spec = preprocess_option(k, &re_record);
  std::string notice;
  auto md = pipeline::stage_output_metadata(path, l.model, l.metadata, spec, re_record,
                                            pipeline_text, &notice);
  if (!md.is_ok()) raise_status(md.status());
  if (!notice.empty() && !progress.is_none()) progress("note", notice, 0, 0);
  return std::move(md).value();
}

}  // namespace

py::dict compress(const std::string& model, const std::string& output, bool force,
                  py::object progress, py::dict options) {
  check_isa_setting();
  Keywords k(options, "compress");
  pipeline::CompressOptions o = compress_options(k);
  o.model_path = model;
  o.output_name = output;
  check_output(output, force, true);
  PyObserver observer(progress);
  Result<pipeline::CompressResult> r = Status::ok();
  run_released(observer, [&] {
    r = pipeline::compress(o, &observer);
    if (!r.is_ok()) return r.status();
    return write_file_atomic(output, r->bytes, force);
  });
  py::dict d;
  d["output"] = output;
  d["bytes"] = r->bytes.size();
  d["seconds"] = r->seconds;
  d["holdout_images"] = r->holdout_images;
  d["stages"] = json_value(report::stage_table_json(r->stages, r->holdout_images));
  py::dict widths;
  for (const auto& [name, bits] : r->widths) {  // whole widths as ints, as before half ones
    const auto whole = static_cast<int>(bits);
    widths[py::str(name)] =
        bits == whole ? py::object(py::int_(whole)) : py::object(py::float_(bits));
  }
  d["widths"] = widths;
  return d;
}

py::dict prune(const std::string& model, const std::string& output, bool force,
               py::object progress, py::dict options) {
  check_isa_setting();
  Keywords k(options, "prune");
  const PruneSettings s = prune_options(k);
  Loaded l = load(model, k);
  const format::Metadata md = output_metadata(model, l, k, "prune (Python)", progress);
  k.finish();
  check(prune::check_options(l.model, s.options).with_context(model));
  check_output(output, force, false);
  std::unique_ptr<pipeline::CommandRetrainHook> hook;
  if (!s.retrain_cmd.empty())
    hook = std::make_unique<pipeline::CommandRetrainHook>(s.retrain_cmd, false, md);
  const double before = prune::total_density(l.model);
  PyObserver observer(progress);
  Result<std::vector<prune::StepReport>> reports = Status::ok();
  run_released(observer, [&] {
    reports = prune::prune_iteratively(l.model, s.options, hook.get());
    if (!reports.is_ok()) return reports.status();
    format::SqzEncodeOptions encoding;
    encoding.metadata = md;
    return pipeline::write_model(l.model, output, encoding, force);
  });
  py::dict d;
  d["output"] = output;
  d["density_before"] = before;
  d["density_after"] = prune::total_density(l.model);
  py::list layers;
  for (const auto& r : reports->back().layers)
    layers.append(py::dict(py::arg("name") = r.name, py::arg("weights") = r.weights,
                           py::arg("kept") = r.kept_after, py::arg("threshold") = r.threshold));
  d["layers"] = layers;
  return d;
}

py::dict quantize(const std::string& model, const std::string& output, bool force,
                  py::object progress, py::dict options) {
  check_isa_setting();
  Keywords k(options, "quantize");
  std::string pipeline_text, retrain_cmd;
  const quantize::QuantizeOptions o = quantize_options(k, &pipeline_text, &retrain_cmd);
  Loaded l = load(model, k);
  const format::Metadata md = output_metadata(model, l, k, pipeline_text, progress);
  k.finish();
  check(quantize::check_options(l.model, o).with_context(model));
  check_output(output, force, true);
  PyObserver observer(progress);
  Result<std::vector<quantize::LayerMetrics>> metrics = Status::ok();
  format::SqzFile file;
  run_released(observer, [&] {
    metrics = quantize::quantize_model(l.model, o);
    if (!metrics.is_ok()) return metrics.status().with_context(model);
    if (!retrain_cmd.empty())
      SQZ_RETURN_IF_ERROR(
          pipeline::retrain_centroids_by_command(l.model, retrain_cmd, false, md));
    format::SqzEncodeOptions encoding;
    encoding.metadata = md;
    return pipeline::write_model(l.model, output, encoding, force, &file);
  });
  py::dict d;
  d["output"] = output;
  d["bytes"] = file.file_bytes;
  py::list layers;
  for (const auto& m : *metrics)
    layers.append(py::dict(py::arg("name") = m.name, py::arg("bits") = m.bits,
                           py::arg("centroids_used") = m.centroids_used,
                           py::arg("nonzeros") = m.nonzeros, py::arg("rmse") = m.rmse,
                           py::arg("sqnr_db") = m.sqnr_db));
  d["layers"] = layers;
  return d;
}

py::dict report(const std::vector<std::string>& models, const std::string& html,
                const std::string& chart, bool force, py::object progress, py::dict options) {
  check_isa_setting();
  Keywords k(options, "report");
  pipeline::ReportOptions o;
  o.models = models;
  k.text("reference", &o.reference);
  k.text("prototxt", &o.prototxt);
  k.text("images", &o.images);
  k.text("labels", &o.labels);
  k.text("label_file", &o.label_file);
  k.integer("limit", 0, int64_t{1} << 31, &o.limit);
  k.integer("threads", 1, 1024, &o.threads);
  bool unused = false;
  o.preprocess = preprocess_option(k, &unused);
  k.flag("force_preprocess", &o.force);
  k.flag("allow_truncated_images", &o.decode.allow_truncated);
  k.finish();
  check(pipeline::check_report_options(o));  // before any output is looked at
  for (const std::string& out : {html, chart})
    if (!out.empty()) check_output(out, force, false);
  PyObserver observer(progress);
  Result<pipeline::ReportData> r = Status::ok();
  run_released(observer, [&] {
    r = pipeline::build_report(o, &observer);
    if (!r.is_ok()) return r.status();
    if (!html.empty()) SQZ_RETURN_IF_ERROR(write_file_atomic(html, report::report_html(*r), force));
    if (!chart.empty())
      SQZ_RETURN_IF_ERROR(write_file_atomic(chart, report::report_accuracy_svg(*r), force));
    return Status::ok();
  });
  py::dict d = json_value(report::report_json(*r));
  d["markdown"] = report::report_markdown(*r);
  return d;
}

}  // namespace sqz::python
