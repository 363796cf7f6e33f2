// report: the paper-style stage table, the per-layer ledger and accuracy against size for one
// or more .sqz files, as Markdown or JSON on stdout and optionally a self-contained HTML file.
#include <cstdio>

#include "commands.h"
#include "common.h"
#include "model_options.h"
#include "output.h"
#include "progress.h"
#include "sqz/core/file_io.h"
#include "sqz/pipeline/report.h"

namespace sqz::cli {
namespace {

struct Settings {
  pipeline::ReportOptions report;
  PreprocessFlags preprocess;
  std::string html, chart;
  bool force = false;
};

int run_report(const Settings& s, const GlobalFlags& flags) {
  for (const std::string& out : {s.html, s.chart})
    if (!out.empty())
      if (Status st = check_output_path(out, s.force); !st.is_ok()) return fail(st);
  ConsoleObserver observer(flags.quiet, flags.verbose);
  auto r = pipeline::build_report(s.report, &observer);
  if (!r.is_ok())
    return r.status().code() == ErrorCode::kConflict ? usage_error("report", r.status().message())
                                                     : fail(r.status());
  if (!s.html.empty())
    if (Status st = write_file_atomic(s.html, report::report_html(*r), s.force); !st.is_ok())
      return fail(st);
  if (!s.chart.empty())
    if (Status st = write_file_atomic(s.chart, report::report_accuracy_svg(*r), s.force);
        !st.is_ok())
      return fail(st);
  std::fputs((flags.json ? report::report_json(*r) : report::report_markdown(*r)).c_str(), stdout);
  if (!s.html.empty() && !flags.quiet)
    std::fprintf(stderr, "wrote %s\n", printable(s.html).c_str());
  return kExitOk;
}

}  // namespace

int cmd_report(int argc, char** argv) {
  GlobalFlags flags;
  Settings s;
  pipeline::ReportOptions& o = s.report;
  po::options_description options("options");
  add_global_options(options, &flags);
  options.add_options()("models", po::value(&o.models)->required()->multitoken(),
                        ".sqz files; the first is described in full")(
      "reference", po::value(&o.reference), "the uncompressed model, for agreement and KL")(
      "prototxt", po::value(&o.prototxt), "Caffe network definition for the reference")(
      "images", po::value(&o.images),
      "folder of labelled images to measure on (each model skips its calibration images)")(
      "label-file", po::value(&o.label_file),
      "lines 'relative/path<TAB>class' (index or class id)")(
      "labels", po::value(&o.labels),
      "class list, '<wnid> <name>' per line (default: synsets.txt beside the folder)")(
      "limit", ranged(&o.limit, 0, kMaxImages, "limit")->default_value(0),
      "use only the first N images (0: all)")("threads", thread_count(&o.threads)->default_value(1),
                                              "worker threads")(
      "html", po::value(&s.html), "also write a self-contained HTML report with SVG charts")(
      "chart", po::value(&s.chart), "also write the accuracy-against-size chart as an SVG file")(
      "force,f", po::bool_switch(&s.force),
      "overwrite existing HTML or SVG files; use the preprocessing options even where the "
      "model records another");
  add_preprocess_options(options, &s.preprocess);
  po::variables_map vm;
  int code;
  if (!parse_args("report",
                  "MODEL.sqz [MORE.sqz ...] [--reference MODEL] [--images DIR] [--html FILE]",
                  options, {"models"}, argc, argv, &vm, &code))
    return code;
  auto spec = preprocess_spec(s.preprocess);
  if (!spec.is_ok()) return usage_error("report", spec.status().message());
  o.preprocess = *spec;
  o.decode.allow_truncated = s.preprocess.allow_truncated;
  o.force = s.force;
  // Before any file is read: options that would be ignored, in the library's words.
  if (Status st = pipeline::check_report_options(o); !st.is_ok())
    return usage_error("report", st.message());
  return run_report(s, flags);
}

}  // namespace sqz::cli
