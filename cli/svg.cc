#include "svg.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace sqz::cli {
namespace {

const char* kPalette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                          "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

std::string tick_label(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", std::fabs(v) < 1e-12 ? 0.0 : v);
  return buf;
}

// A "nice" tick step for a span (1, 2 or 5 times a power of ten).
double nice_step(double span) {
  const double raw = span / 5, p = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0})
    if (raw <= m * p) return m * p;
  return 10 * p;
}

}  // namespace

std::string xml_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string line_chart_svg(const std::vector<Series>& series, const ChartOptions& o) {
  double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
  for (const Series& s : series)
    for (size_t i = 0; i < s.x.size(); ++i) {
      x0 = std::min(x0, s.x[i]), x1 = std::max(x1, s.x[i]);
      y0 = std::min(y0, s.y[i]), y1 = std::max(y1, s.y[i]);
    }
  if (!std::isfinite(x0)) x0 = 0, x1 = 1, y0 = 0, y1 = 1;
  if (x1 == x0) x1 = x0 + 1;
  if (y1 == y0) y1 = y0 + 1;
  const double ys = nice_step(y1 - y0), xs = nice_step(x1 - x0);
  y0 = std::floor(y0 / ys) * ys, y1 = std::ceil(y1 / ys) * ys;
  x0 = std::floor(x0 / xs) * xs, x1 = std::ceil(x1 / xs) * xs;
  const double left = 64, right = o.legend ? 210 : 20, top = 36, bottom = 52;
  const double pw = o.width - left - right, ph = o.height - top - bottom;
  auto px = [&](double x) { return left + (x - x0) / (x1 - x0) * pw; };
  auto py = [&](double y) { return top + (1 - (y - y0) / (y1 - y0)) * ph; };
  std::string svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + std::to_string(o.width) +
                    "\" height=\"" + std::to_string(o.height) + "\" viewBox=\"0 0 " +
                    std::to_string(o.width) + " " + std::to_string(o.height) +
                    "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  svg += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  svg += "<text x=\"" + num(left) + "\" y=\"20\" font-size=\"15\" font-weight=\"bold\">" +
         xml_escape(o.title) + "</text>\n";
  for (double y = y0; y <= y1 + ys / 2; y += ys) {
    svg += "<line x1=\"" + num(left) + "\" x2=\"" + num(left + pw) + "\" y1=\"" + num(py(y)) +
           "\" y2=\"" + num(py(y)) + "\" stroke=\"#ddd\"/>\n";
    svg += "<text x=\"" + num(left - 6) + "\" y=\"" + num(py(y) + 4) + "\" text-anchor=\"end\">" +
           tick_label(y) + "</text>\n";
  }
  for (double x = x0; x <= x1 + xs / 2; x += xs)
    svg += "<text x=\"" + num(px(x)) + "\" y=\"" + num(top + ph + 18) +
           "\" text-anchor=\"middle\">" + tick_label(x) + "</text>\n";
  svg += "<rect x=\"" + num(left) + "\" y=\"" + num(top) + "\" width=\"" + num(pw) +
         "\" height=\"" + num(ph) + "\" fill=\"none\" stroke=\"#333\"/>\n";
  svg += "<text x=\"" + num(left + pw / 2) + "\" y=\"" + num(o.height - 10.0) +
         "\" text-anchor=\"middle\">" + xml_escape(o.x_label) + "</text>\n";
  svg += "<text transform=\"translate(16," + num(top + ph / 2) +
         ") rotate(-90)\" text-anchor=\"middle\">" + xml_escape(o.y_label) + "</text>\n";
  for (size_t k = 0; k < series.size(); ++k) {
    const Series& s = series[k];
    const std::string color = kPalette[k % 10];
    std::string points;
    for (size_t i = 0; i < s.x.size(); ++i) points += num(px(s.x[i])) + "," + num(py(s.y[i])) + " ";
    if (!s.points_only && s.x.size() > 1)
      svg += "<polyline fill=\"none\" stroke=\"" + color + "\" stroke-width=\"1.6\"" +
             (s.dashed ? " stroke-dasharray=\"6 4\"" : "") + " points=\"" + points + "\"/>\n";
    for (size_t i = 0; i < s.x.size(); ++i)
      svg += "<circle cx=\"" + num(px(s.x[i])) + "\" cy=\"" + num(py(s.y[i])) + "\" r=\"" +
             (s.points_only ? "4" : "2.2") + "\" fill=\"" + color + "\"/>\n";
    if (o.legend) {
      const double ly = top + 8 + 15.0 * static_cast<double>(k);
      svg += "<line x1=\"" + num(left + pw + 12) + "\" x2=\"" + num(left + pw + 30) + "\" y1=\"" +
             num(ly) + "\" y2=\"" + num(ly) + "\" stroke=\"" + color + "\" stroke-width=\"2\"" +
             (s.dashed ? " stroke-dasharray=\"4 3\"" : "") + "/>\n";
      svg += "<text x=\"" + num(left + pw + 34) + "\" y=\"" + num(ly + 4) + "\">" +
             xml_escape(s.label) + "</text>\n";
    }
  }
  return svg + "</svg>\n";
}

}  // namespace sqz::cli
