// Minimal SVG charts (lines, stacked bars, a waterfall) for reports: self-contained, no scripts,
// readable in any browser.
#pragma once

#include <string>
#include <vector>

namespace sqz::report {

struct Series {
  std::string label;
  std::vector<double> x, y;
  bool dashed = false;
  bool points_only = false;
  bool hollow = false;  // markers drawn as rings (e.g. a reference beside the measured points)
  std::vector<double> lo, hi;  // empty, or an error bar per point from lo[i] to hi[i]
};

// A straight line across the plot at x = value (vertical) or y = value, labelled.
struct Guide {
  double value = 0;
  bool vertical = false;
  std::string label;
};

// A shaded horizontal band from y = lo to y = hi, labelled.
struct Band {
  double lo = 0, hi = 0;
  std::string label;
};

struct ChartOptions {
  std::string title, x_label, y_label;
  int width = 760, height = 420;
  bool legend = true;
  std::vector<Guide> guides;  // line charts only
  std::vector<Band> bands;    // line charts only
};

// An <svg> element (no XML prolog) plotting every series on shared linear axes.
std::string line_chart_svg(const std::vector<Series>& series, const ChartOptions& options);

// Horizontal bars, one per category, each split into stacked segments (one per stack,
// in stack order, coloured and listed in the legend). values[stack][category] >= 0.
struct BarStack {
  std::string label;
  std::vector<double> values;
};
std::string stacked_bar_chart_svg(const std::vector<std::string>& categories,
                                  const std::vector<BarStack>& stacks, const ChartOptions& options);

// A waterfall: the first bar is the starting total, each later one floats from the previous
// total down to its own, labelled with the total and the factor it saved.
std::string waterfall_svg(const std::vector<std::string>& stages, const std::vector<double>& totals,
                          const ChartOptions& options);

// Escapes &, <, >, " for SVG/HTML text.
std::string xml_escape(const std::string& s);

}  // namespace sqz::report
