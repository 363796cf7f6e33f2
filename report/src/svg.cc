#include "sqz/report/svg.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace sqz::report {
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

std::string svg_open(const ChartOptions& o) {
  return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + std::to_string(o.width) +
         "\" height=\"" + std::to_string(o.height) + "\" viewBox=\"0 0 " + std::to_string(o.width) +
         " " + std::to_string(o.height) + "\" font-family=\"sans-serif\" font-size=\"12\">\n" +
         "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
}

std::string text(double x, double y, const std::string& s, const char* anchor = "start",
                 const char* extra = "") {
  return "<text x=\"" + num(x) + "\" y=\"" + num(y) + "\" text-anchor=\"" + anchor + "\"" + extra +
         ">" + xml_escape(s) + "</text>\n";
}

std::string rect(double x, double y, double w, double h, const std::string& fill) {
  return "<rect x=\"" + num(x) + "\" y=\"" + num(y) + "\" width=\"" + num(w) + "\" height=\"" +
         num(h) + "\" fill=\"" + fill + "\"/>\n";
}

// Vertical grid lines and tick labels for a horizontal value axis [0, top).
std::string value_axis(double left, double width, double y_top, double y_bottom, double top) {
  const double step = nice_step(top);
  std::string svg;
  for (double v = 0; v <= top + step / 2; v += step) {
    const double x = left + v / top * width;
    svg += "<line x1=\"" + num(x) + "\" x2=\"" + num(x) + "\" y1=\"" + num(y_top) + "\" y2=\"" +
           num(y_bottom) + "\" stroke=\"#ddd\"/>\n";
    svg += text(x, y_bottom + 16, tick_label(v), "middle");
  }
  return svg;
}

}  // namespace

std::string stacked_bar_chart_svg(const std::vector<std::string>& categories,
                                  const std::vector<BarStack>& stacks, const ChartOptions& o) {
  size_t longest = 0;
  for (const std::string& c : categories) longest = std::max(longest, c.size());
  const double left = 16 + 6.0 * static_cast<double>(longest);  // ~6 px per 10 px glyph
  const double right = o.legend ? 120 : 20, top = 36, bottom = 50;
  const double pw = o.width - left - right, ph = o.height - top - bottom;
  double most = 0;
  for (size_t c = 0; c < categories.size(); ++c) {
    double sum = 0;
    for (const BarStack& s : stacks) sum += s.values[c];
    most = std::max(most, sum);
  }
  const double step = nice_step(most > 0 ? most : 1);
  const double axis_top = std::ceil((most > 0 ? most : 1) / step) * step;
  const double bar = ph / std::max<size_t>(categories.size(), 1);
  std::string svg =
      svg_open(o) + text(left, 20, o.title, "start", " font-size=\"15\" font-weight=\"bold\"");
  svg += value_axis(left, pw, top, top + ph, axis_top);
  for (size_t c = 0; c < categories.size(); ++c) {
    const double y = top + bar * static_cast<double>(c);
    svg += text(left - 6, y + bar * 0.5 + 4, categories[c], "end", " font-size=\"10\"");
    double x = left;
    for (size_t k = 0; k < stacks.size(); ++k) {
      const double w = stacks[k].values[c] / axis_top * pw;
      if (w > 0) svg += rect(x, y + bar * 0.12, w, bar * 0.76, kPalette[k % 10]);
      x += w;
    }
  }
  svg += text(left + pw / 2, o.height - 10.0, o.x_label, "middle");
  if (o.legend)
    for (size_t k = 0; k < stacks.size(); ++k) {
      const double ly = top + 8 + 16.0 * static_cast<double>(k);
      svg += rect(left + pw + 12, ly - 6, 12, 12, kPalette[k % 10]);
      svg += text(left + pw + 30, ly + 4, stacks[k].label);
    }
  return svg + "</svg>\n";
}

std::string waterfall_svg(const std::vector<std::string>& stages, const std::vector<double>& totals,
                          const ChartOptions& o) {
  const double left = 64, right = 20, top = 36, bottom = 70;
  const double pw = o.width - left - right, ph = o.height - top - bottom;
  const double most = totals.empty() ? 1 : *std::max_element(totals.begin(), totals.end());
  const double step = nice_step(most > 0 ? most : 1);
  const double axis_top = std::ceil((most > 0 ? most : 1) / step) * step;
  auto py = [&](double v) { return top + (1 - v / axis_top) * ph; };
  std::string svg =
      svg_open(o) + text(left, 20, o.title, "start", " font-size=\"15\" font-weight=\"bold\"");
  for (double v = 0; v <= axis_top + step / 2; v += step) {
    svg += "<line x1=\"" + num(left) + "\" x2=\"" + num(left + pw) + "\" y1=\"" + num(py(v)) +
           "\" y2=\"" + num(py(v)) + "\" stroke=\"#ddd\"/>\n";
    svg += text(left - 6, py(v) + 4, tick_label(v), "end");
  }
  const double slot = pw / std::max<size_t>(stages.size(), 1);
  for (size_t i = 0; i < stages.size(); ++i) {
    const double x = left + slot * static_cast<double>(i) + slot * 0.15, w = slot * 0.7;
    const double hi = i == 0 ? totals[0] : totals[i - 1];
    svg += rect(x, py(totals[i]), w, py(0) - py(totals[i]), kPalette[0]);
    if (i > 0 && hi > totals[i]) svg += rect(x, py(hi), w, py(totals[i]) - py(hi), "#f4b6b6");
    char label[64];
    if (i == 0)
      std::snprintf(label, sizeof label, "%s", tick_label(totals[i]).c_str());
    else
      std::snprintf(label, sizeof label, "%s (%.1fx)", tick_label(totals[i]).c_str(),
                    totals[i] > 0 ? totals[i - 1] / totals[i] : 0.0);
    svg += text(x + w / 2, py(totals[i]) - 4, label, "middle", " font-size=\"11\"");
    svg += text(x + w / 2, top + ph + 16, stages[i], "middle", " font-size=\"11\"");
  }
  svg += text(left + pw / 2, o.height - 10.0, o.x_label, "middle");
  svg += "<text transform=\"translate(16," + num(top + ph / 2) +
         ") rotate(-90)\" text-anchor=\"middle\">" + xml_escape(o.y_label) + "</text>\n";
  return svg + "</svg>\n";
}

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

namespace {

// The data range of a line chart: every point, error bar, guide and band.
void chart_range(const std::vector<Series>& series, const ChartOptions& o, double* x0, double* x1,
                 double* y0, double* y1) {
  auto see_x = [&](double x) { *x0 = std::min(*x0, x), *x1 = std::max(*x1, x); };
  auto see_y = [&](double y) { *y0 = std::min(*y0, y), *y1 = std::max(*y1, y); };
  for (const Series& s : series)
    for (size_t i = 0; i < s.x.size(); ++i) {
      see_x(s.x[i]);
      see_y(s.y[i]);
      if (i < s.lo.size() && i < s.hi.size()) see_y(s.lo[i]), see_y(s.hi[i]);
    }
  for (const Guide& g : o.guides) g.vertical ? see_x(g.value) : see_y(g.value);
  for (const Band& b : o.bands) see_y(b.lo), see_y(b.hi);
}

// The plot area and its data ranges: px and py map data to SVG coordinates.
struct Plot {
  double x0, x1, y0, y1, left, top, pw, ph;
  double px(double x) const { return left + (x - x0) / (x1 - x0) * pw; }
  double py(double y) const { return top + (1 - (y - y0) / (y1 - y0)) * ph; }
};

// Each series' error bars, line and markers, and its legend entry.
std::string series_svg(const std::vector<Series>& series, const Plot& f, bool legend) {
  std::string svg;
  for (size_t k = 0; k < series.size(); ++k) {
    const Series& s = series[k];
    const std::string color = kPalette[k % 10];
    std::string points;
    for (size_t i = 0; i < s.x.size(); ++i)
      points += num(f.px(s.x[i])) + "," + num(f.py(s.y[i])) + " ";
    for (size_t i = 0; i < s.x.size() && i < s.lo.size() && i < s.hi.size(); ++i) {
      const double ex = f.px(s.x[i]);
      svg += "<path d=\"M" + num(ex) + " " + num(f.py(s.lo[i])) + "V" + num(f.py(s.hi[i])) + "M" +
             num(ex - 4) + " " + num(f.py(s.lo[i])) + "h8M" + num(ex - 4) + " " +
             num(f.py(s.hi[i])) + "h8\" stroke=\"" + color +
             "\" stroke-width=\"1.3\" fill=\"none\"/>\n";
    }
    if (!s.points_only && s.x.size() > 1)
      svg += "<polyline fill=\"none\" stroke=\"" + color + "\" stroke-width=\"1.6\"" +
             (s.dashed ? " stroke-dasharray=\"6 4\"" : "") + " points=\"" + points + "\"/>\n";
    for (size_t i = 0; i < s.x.size(); ++i)
      svg += "<circle cx=\"" + num(f.px(s.x[i])) + "\" cy=\"" + num(f.py(s.y[i])) + "\" r=\"" +
             (s.points_only ? "4.5" : "2.2") + "\" " +
             (s.hollow ? "fill=\"none\" stroke=\"" + color + "\" stroke-width=\"1.8\""
                       : "fill=\"" + color + "\"") +
             "/>\n";
    if (legend) {
      const double ly = f.top + 8 + 15.0 * static_cast<double>(k);
      svg += "<line x1=\"" + num(f.left + f.pw + 12) + "\" x2=\"" + num(f.left + f.pw + 30) +
             "\" y1=\"" + num(ly) + "\" y2=\"" + num(ly) + "\" stroke=\"" + color +
             "\" stroke-width=\"2\"" + (s.dashed ? " stroke-dasharray=\"4 3\"" : "") + "/>\n";
      svg += "<text x=\"" + num(f.left + f.pw + 34) + "\" y=\"" + num(ly + 4) + "\">" +
             xml_escape(s.label) + "</text>\n";
    }
  }
  return svg;
}

}  // namespace

std::string line_chart_svg(const std::vector<Series>& series, const ChartOptions& o) {
  double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
  chart_range(series, o, &x0, &x1, &y0, &y1);
  if (!std::isfinite(x0)) x0 = 0, x1 = 1, y0 = 0, y1 = 1;
  if (x1 == x0) x1 = x0 + 1;
  if (y1 == y0) y1 = y0 + 1;
  const double ys = nice_step(y1 - y0), xs = nice_step(x1 - x0);
  y0 = std::floor(y0 / ys) * ys, y1 = std::ceil(y1 / ys) * ys;
  x0 = std::floor(x0 / xs) * xs, x1 = std::ceil(x1 / xs) * xs;
  const double left = 64, right = o.legend ? 260 : 20, top = 36, bottom = 52;
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
  for (const Band& b : o.bands) {
    svg += "<rect x=\"" + num(left) + "\" y=\"" + num(py(b.hi)) + "\" width=\"" + num(pw) +
           "\" height=\"" + num(py(b.lo) - py(b.hi)) +
           "\" fill=\"#2ca02c\" fill-opacity=\"0.12\"/>\n";
    svg += text(left + 6, py(b.lo) - 5, b.label, "start", " font-size=\"11\" fill=\"#2a6f2a\"");
  }
  for (const Guide& g : o.guides) {
    const double gx = px(g.value), gy = py(g.value);
    svg += g.vertical ? "<line x1=\"" + num(gx) + "\" x2=\"" + num(gx) + "\" y1=\"" + num(top) +
                            "\" y2=\"" + num(top + ph) + "\""
                      : "<line x1=\"" + num(left) + "\" x2=\"" + num(left + pw) + "\" y1=\"" +
                            num(gy) + "\" y2=\"" + num(gy) + "\"";
    svg += " stroke=\"#555\" stroke-width=\"1.2\" stroke-dasharray=\"5 4\"/>\n";
    svg += g.vertical ? text(gx - 4, top + 14, g.label, "end", " font-size=\"11\"")
                      : text(left + pw - 6, gy - 5, g.label, "end", " font-size=\"11\"");
  }
  svg += series_svg(series, Plot{x0, x1, y0, y1, left, top, pw, ph}, o.legend);
  return svg + "</svg>\n";
}

}  // namespace sqz::report
