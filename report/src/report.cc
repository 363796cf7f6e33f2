#include "sqz/report/report.h"

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "sqz/report/svg.h"
#include "stage_row_json.h"

namespace sqz::report {
namespace {

std::string fmt(const char* format, double v) {
  char b[64];
  std::snprintf(b, sizeof b, format, v);
  return b;
}

std::string pct(double f) { return f < 0 ? "-" : fmt("%.2f%%", 100 * f); }

std::string base_name(const std::string& path) {
  return std::filesystem::path(path).filename().string();
}

int64_t ledger_sum(const ReportData& r) {
  int64_t sum = 0;
  for (const auto& [part, bytes] : r.file_parts) sum += bytes;
  for (const LedgerLine& l : r.layers) sum += l.total();
  return sum;
}

std::string ledger_markdown(const ReportData& r) {
  std::string out =
      "| layer | weights | non-zero | density | bits | header | bias | codebook | positions | "
      "values | total |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | "
      "---: |\n";
  for (const LedgerLine& l : r.layers)
    out += "| " + l.layer + " | " + std::to_string(l.weights) + " | " + std::to_string(l.nonzeros) +
           " | " + pct(l.weights ? double(l.nonzeros) / double(l.weights) : 0) + " | " +
           (l.bits ? std::to_string(l.bits) : "f32") + " | " + std::to_string(l.header) + " | " +
           std::to_string(l.bias) + " | " + std::to_string(l.codebook) + " | " +
           std::to_string(l.positions) + " (" + l.position_coding + ") | " +
           std::to_string(l.values) + " | " + std::to_string(l.total()) + " |\n";
  for (const auto& [part, bytes] : r.file_parts)
    out += "| *" + part + "* | | | | | | | | | | " + std::to_string(bytes) + " |\n";
  out += "| **file** | | | | | | | | | | **" + std::to_string(ledger_sum(r)) + "** |\n";
  return out;
}

std::string delta(double value, double reference) {
  return value < 0 || reference < 0 ? "-" : fmt("%+.1f", 100 * (value - reference));
}

std::string points_markdown(const ReportData& r) {
  std::string out =
      "| model | bytes | vs AlexNet | images | top-1 | top-5 | reference top-1 | reference "
      "top-5 | Δ top-1 | Δ top-5 | agreement | KL |\n| --- | ---: | ---: | ---: | ---: | ---: | "
      "---: | ---: | ---: | ---: | ---: | ---: |\n";
  for (const ModelPoint& p : r.points)
    out += "| " + base_name(p.path) + " | " + std::to_string(p.bytes) + " | " +
           fmt("%.1fx", double(kAlexNetBytes) / double(p.bytes)) + " | " +
           std::to_string(p.images) + " | " + pct(p.top1) + " | " + pct(p.top5) + " | " +
           pct(p.reference_top1) + " | " + pct(p.reference_top5) + " | " +
           delta(p.top1, p.reference_top1) + " | " + delta(p.top5, p.reference_top5) + " | " +
           pct(p.agreement) + " | " + (p.mean_kl < 0 ? "-" : fmt("%.4f", p.mean_kl)) + " |\n";
  return out;
}

std::string interval(double lo, double hi) {
  return "[" + fmt("%+.1f", 100 * lo) + ", " + fmt("%+.1f", 100 * hi) + "]";
}

std::string pooled_markdown(const ReportData& r) {
  std::string out =
      "| target | files | largest file | vs AlexNet | images | Δ top-1 | 95% interval | Δ top-5 | "
      "95% interval | agreement | KL |\n| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | "
      "---: | ---: | ---: |\n";
  for (const PooledPoint& g : r.pooled)
    out += "| " + std::to_string(g.target_bytes) + " | " + std::to_string(g.points.size()) + " | " +
           std::to_string(g.max_bytes) + " | " +
           fmt("%.1fx", double(kAlexNetBytes) / double(g.max_bytes)) + " | " +
           std::to_string(g.images) + " | " + fmt("%+.1f", 100 * g.delta_top1) + " | " +
           interval(g.top1_lo, g.top1_hi) + " | " + fmt("%+.1f", 100 * g.delta_top5) + " | " +
           interval(g.top5_lo, g.top5_hi) + " | " + pct(g.agreement) + " | " +
           (g.mean_kl < 0 ? "-" : fmt("%.4f", g.mean_kl)) + " |\n";
  return out;
}

const char* kPooledNote =
    "Files that aimed at the same target (the calibration folds of one point) pooled: every "
    "(file, held-out image) pair once, the change against the uncompressed model on the same "
    "images, in points, with a paired bootstrap 95% interval (2000 resamples).\n";

std::string accuracy_note(const ReportData& r) {
  if (r.points.empty() || r.points[0].images == 0)
    return "Accuracy not measured (no labelled images given).\n";
  std::string s = "Accuracy on " + std::to_string(r.points[0].images) + " images";
  if (r.points[0].excluded)
    s += " (" + std::to_string(r.points[0].excluded) +
         " more were left out: the model was calibrated on them)";
  return s + ".\n";
}

// The three charts of the HTML report.
std::string waterfall_chart(const ReportData& r) {
  std::vector<std::string> names;
  std::vector<double> totals;
  for (const StageRow& s : r.stages) {
    names.push_back(s.stage);
    totals.push_back(static_cast<double>(s.bytes) / 1e6);
  }
  ChartOptions o;
  o.title = "Size across the stages (MB)";
  o.y_label = "MB";
  o.x_label = "stage";
  return waterfall_svg(names, totals, o);
}

std::string layer_chart(const ReportData& r) {
  std::vector<std::string> names;
  std::vector<BarStack> stacks = {
      {"values", {}}, {"positions", {}}, {"codebook", {}}, {"bias", {}}, {"header", {}}};
  for (const LedgerLine& l : r.layers) {
    names.push_back(l.layer);
    stacks[0].values.push_back(double(l.values));
    stacks[1].values.push_back(double(l.positions));
    stacks[2].values.push_back(double(l.codebook));
    stacks[3].values.push_back(double(l.bias));
    stacks[4].values.push_back(double(l.header));
  }
  ChartOptions o;
  o.title = "Bytes per layer, by kind";
  o.x_label = "bytes";
  o.height = 90 + 18 * static_cast<int>(names.size());
  o.width = 900;
  return stacked_bar_chart_svg(names, stacks, o);
}

// Pooled points: the change in accuracy against size, which is what a frontier is about.
std::string delta_chart(const ReportData& r) {
  Series d1{"Δ top-1, pooled over folds", {}, {}, false, false, false, {}, {}};
  Series d5{"Δ top-5, pooled over folds", {}, {}, true, false, false, {}, {}};
  for (const PooledPoint& g : r.pooled) {
    const double kb = static_cast<double>(g.max_bytes) / 1e3;
    d1.x.push_back(kb), d1.y.push_back(100 * g.delta_top1);
    d1.lo.push_back(100 * g.top1_lo), d1.hi.push_back(100 * g.top1_hi);
    d5.x.push_back(kb), d5.y.push_back(100 * g.delta_top5);
    d5.lo.push_back(100 * g.top5_lo), d5.hi.push_back(100 * g.top5_hi);
  }
  ChartOptions o;
  o.title = "Accuracy change against size (95% bootstrap intervals)";
  o.x_label = "file size (kB)";
  o.y_label = "change vs uncompressed (points)";
  o.width = 860;
  o.guides = {{0, false, "uncompressed model"}, {470, true, "paper: 0.47 MB"}};
  o.bands = {{-1, 0, "within 1 point"}};
  return line_chart_svg({d1, d5}, o);
}

std::string accuracy_chart(const ReportData& r) {
  if (!r.pooled.empty()) return delta_chart(r);
  // Each model's reference is measured on that model's held-out images (they differ between
  // calibration folds), so the uncompressed model is drawn as points beside each model's.
  Series t1{"top-1", {}, {}, false, true, false, {}, {}};
  Series t5{"top-5", {}, {}, false, true, false, {}, {}};
  Series r1{"uncompressed top-1, same images", {}, {}, false, true, true, {}, {}};
  Series r5{"uncompressed top-5, same images", {}, {}, false, true, true, {}, {}};
  for (const ModelPoint& p : r.points) {
    if (p.top1 < 0) continue;
    const double kb = static_cast<double>(p.bytes) / 1e3;
    t1.x.push_back(kb), t1.y.push_back(100 * p.top1);
    t5.x.push_back(kb), t5.y.push_back(100 * p.top5);
    if (p.reference_top1 < 0) continue;
    r1.x.push_back(kb), r1.y.push_back(100 * p.reference_top1);
    r5.x.push_back(kb), r5.y.push_back(100 * p.reference_top5);
  }
  // The paper's point: SqueezeNet + Deep Compression, 0.47 MB, 57.5% / 80.3% top-1 / top-5
  // on the ImageNet validation set (Iandola et al. 2016, Table 2).
  Series paper{"paper 0.47 MB (ImageNet val)", {470, 470}, {57.5, 80.3}, false, true, false,
               {}, {}};
  std::vector<Series> series = {t1, t5};
  if (!r1.x.empty()) series.insert(series.end(), {r1, r5});
  series.push_back(paper);
  ChartOptions o;
  o.title = "Accuracy against size";
  o.x_label = "file size (kB)";
  o.y_label = "accuracy (%)";
  o.width = 860;
  return line_chart_svg(series, o);
}

std::string md_table_to_html(const std::string& md) {
  std::string out = "<table>\n";
  size_t row = 0, start = 0;
  while (start < md.size()) {
    size_t end = md.find('\n', start);
    if (end == std::string::npos) end = md.size();
    const std::string line = md.substr(start, end - start);
    start = end + 1;
    if (line.size() < 2 || line[0] != '|') continue;
    if (row++ == 1) continue;  // the alignment row
    out += "<tr>";
    size_t a = 1;
    while (a < line.size()) {
      size_t b = line.find('|', a);
      if (b == std::string::npos) break;
      std::string cell = line.substr(a, b - a);
      while (!cell.empty() && cell.front() == ' ') cell.erase(cell.begin());
      while (!cell.empty() && cell.back() == ' ') cell.pop_back();
      std::string clean;
      for (char c : cell)
        if (c != '*') clean += c;
      out += row == 1 ? "<th>" + xml_escape(clean) + "</th>" : "<td>" + xml_escape(clean) + "</td>";
      a = b + 1;
    }
    out += "</tr>\n";
  }
  return out + "</table>\n";
}

}  // namespace

std::string report_markdown(const ReportData& r) {
  std::string out = "# squeeze-compress report: " + base_name(r.model_path) + "\n\n";
  out += "`" + r.model_path + "`: " + std::to_string(r.file.file_bytes) + " bytes, " +
         fmt("%.1fx", double(kAlexNetBytes) / double(r.file.file_bytes)) +
         " smaller than AlexNet (240 MB).";
  if (!r.reference_path.empty()) out += " Reference: `" + r.reference_path + "`.";
  out += "\n\n## Stages\n\n" + stage_table_markdown(r.stages, 0) + "\n" + accuracy_note(r);
  out += "\n## Per-layer ledger (bytes)\n\n" + ledger_markdown(r);
  if (!r.points.empty() && r.points[0].images > 0)
    out += "\n## Accuracy against size\n\n" + points_markdown(r);
  if (!r.pooled.empty())
    out += "\n## Pooled over calibration folds\n\n" + std::string(kPooledNote) + "\n" +
           pooled_markdown(r);
  return out;
}

std::string report_json(const ReportData& r) {
  nlohmann::json j;
  j["model"] = r.model_path;
  j["bytes"] = r.file.file_bytes;
  j["reference"] = r.reference_path.empty() ? nlohmann::json() : nlohmann::json(r.reference_path);
  j["alexnet_bytes"] = kAlexNetBytes;
  for (const StageRow& s : r.stages) j["stages"].push_back(stage_row_json(s, r.stages[0].bytes));
  for (const LedgerLine& l : r.layers)
    j["layers"].push_back({{"layer", l.layer},
                           {"weights", l.weights},
                           {"nonzeros", l.nonzeros},
                           {"bits", l.bits},
                           {"header", l.header},
                           {"bias", l.bias},
                           {"codebook", l.codebook},
                           {"positions", l.positions},
                           {"position_coding", l.position_coding},
                           {"values", l.values},
                           {"total", l.total()}});
  for (const auto& [part, bytes] : r.file_parts) j["file_parts"][part] = bytes;
  j["ledger_total"] = ledger_sum(r);
  auto opt = [](double v) { return v < 0 ? nlohmann::json() : nlohmann::json(v); };
  for (const ModelPoint& p : r.points) {
    j["points"].push_back({{"model", p.path},
                           {"bytes", p.bytes},
                           {"images", p.images},
                           {"excluded_calibration_images", p.excluded},
                           {"top1", opt(p.top1)},
                           {"top5", opt(p.top5)},
                           {"reference_top1", opt(p.reference_top1)},
                           {"reference_top5", opt(p.reference_top5)},
                           {"agreement", opt(p.agreement)},
                           {"mean_kl", opt(p.mean_kl)}});
  }
  j["pooled"] = nlohmann::json::array();
  for (const PooledPoint& g : r.pooled) {
    nlohmann::json files = nlohmann::json::array();
    for (size_t i : g.points) files.push_back(r.points[i].path);
    j["pooled"].push_back({{"target_bytes", g.target_bytes},
                           {"models", files},
                           {"max_bytes", g.max_bytes},
                           {"images", g.images},
                           {"delta_top1", g.delta_top1},
                           {"delta_top1_ci95", {g.top1_lo, g.top1_hi}},
                           {"delta_top5", g.delta_top5},
                           {"delta_top5_ci95", {g.top5_lo, g.top5_hi}},
                           {"agreement", opt(g.agreement)},
                           {"mean_kl", opt(g.mean_kl)}});
  }
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::string report_accuracy_svg(const ReportData& r) {
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + accuracy_chart(r);
}

std::string report_html(const ReportData& r) {
  std::string title = "squeeze-compress report: " + base_name(r.model_path);
  std::string out =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" +
      xml_escape(title) +
      "</title>\n<style>\nbody{font-family:sans-serif;margin:2em;max-width:1100px;color:#222}\n"
      "table{border-collapse:collapse;margin:1em 0;font-size:13px}\n"
      "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}\n"
      "td:first-child,th:first-child{text-align:left}\nth{background:#f3f3f3}\n"
      "figure{margin:1.5em 0}\n</style>\n</head>\n<body>\n<h1>" +
      xml_escape(title) + "</h1>\n<p>" + xml_escape(r.model_path) + ": " +
      std::to_string(r.file.file_bytes) + " bytes, " +
      fmt("%.1fx", double(kAlexNetBytes) / double(r.file.file_bytes)) +
      " smaller than AlexNet (240 MB). " + xml_escape(accuracy_note(r)) + "</p>\n";
  out += "<h2>Stages</h2>\n" + md_table_to_html(stage_table_markdown(r.stages, 0));
  out += "<figure id=\"waterfall\">\n" + waterfall_chart(r) + "</figure>\n";
  out += "<h2>Per-layer ledger (bytes)</h2>\n" + md_table_to_html(ledger_markdown(r));
  out += "<figure id=\"layers\">\n" + layer_chart(r) + "</figure>\n";
  out += "<h2>Accuracy against size</h2>\n";
  if (!r.points.empty() && r.points[0].images > 0)
    out += md_table_to_html(points_markdown(r)) +
           (r.pooled.empty() ? ""
                             : "<h3>Pooled over calibration folds</h3>\n<p>" +
                                   xml_escape(kPooledNote) + "</p>\n" +
                                   md_table_to_html(pooled_markdown(r))) +
           "<figure id=\"accuracy\">\n" + accuracy_chart(r) + "</figure>\n";
  else
    out += "<p>Not measured: no labelled images were given.</p>\n";
  return out + "</body>\n</html>\n";
}

}  // namespace sqz::report
