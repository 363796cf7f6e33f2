#include "sqz/report/sensitivity.h"

#include <algorithm>
#include <sstream>

#include "sqz/report/svg.h"
#include "sqz/report/text.h"

namespace sqz::report {

std::string sensitivity_csv(const std::vector<SensitivityPoint>& pts) {
  std::ostringstream out;
  out << "layer,density,kept,weights,agreement,top1,top5,mean_kl\n";
  for (const SensitivityPoint& p : pts)
    out << p.layer << "," << p.density << "," << p.kept << "," << p.weights << ","
        << p.acc.agreement << "," << p.acc.top1 << "," << p.acc.top5 << "," << p.acc.mean_kl
        << "\n";
  return out.str();
}

std::string sensitivity_json(const std::vector<SensitivityPoint>& pts, const Accuracy& base,
                 const std::map<std::string, double>& proposal, double target) {
  std::ostringstream out;
  out << "{\"baseline\": {\"top1\": " << base.top1 << ", \"top5\": " << base.top5
      << ", \"images\": " << base.images << "},\n \"points\": [";
  for (size_t i = 0; i < pts.size(); ++i)
    out << (i ? "," : "") << "\n  {\"layer\": " << json_quote(pts[i].layer)
        << ", \"density\": " << pts[i].density << ", \"kept\": " << pts[i].kept
        << ", \"agreement\": " << pts[i].acc.agreement << ", \"top1\": " << pts[i].acc.top1
        << ", \"top5\": " << pts[i].acc.top5 << "}";
  out << "],\n \"target_density\": " << target << ",\n \"proposed_densities\": {";
  size_t k = 0;
  for (const auto& [name, d] : proposal) out << (k++ ? ", " : "") << json_quote(name) << ": " << d;
  out << "}}\n";
  return out.str();
}

std::string sensitivity_svg(const Model& model, const Sensitivity& s, int64_t images) {
  std::vector<Series> series;
  for (const Layer& l : model.layers) {
    if (l.op != OpKind::kConvolution) continue;
    Series line{l.name, {1.0}, {100.0}, false, false, false, {}, {}};
    for (const SensitivityPoint& p : s.points)
      if (p.layer == l.name) line.x.push_back(p.density), line.y.push_back(100 * p.acc.agreement);
    series.push_back(line);
  }
  ChartOptions chart{"Pruning sensitivity: one layer pruned at a time (" + std::to_string(images) +
                         " images)",
                     "density of the pruned layer",
                     "top-1 agreement with the unpruned model (%)",
                     900,
                     std::max(460, 60 + 15 * static_cast<int>(series.size())),
                     true,
                     {},
                     {}};
  return line_chart_svg(series, chart);
}

}  // namespace sqz::report
