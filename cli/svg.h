// Minimal SVG line charts for reports: self-contained, no scripts, readable in any browser.
#pragma once

#include <string>
#include <vector>

namespace sqz::cli {

struct Series {
  std::string label;
  std::vector<double> x, y;
  bool dashed = false;
  bool points_only = false;
};

struct ChartOptions {
  std::string title, x_label, y_label;
  int width = 760, height = 420;
  bool legend = true;
};

// An <svg> element (no XML prolog) plotting every series on shared linear axes.
std::string line_chart_svg(const std::vector<Series>& series, const ChartOptions& options);

// Escapes &, <, >, " for SVG/HTML text.
std::string xml_escape(const std::string& s);

}  // namespace sqz::cli
