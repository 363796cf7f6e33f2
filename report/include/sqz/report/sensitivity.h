// Renderings of a pruning-sensitivity sweep: CSV (a row per point), JSON (baseline, points,
// proposal) and an SVG line chart (agreement against density, a line per layer, 100% at
// density 1).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "sqz/core/graph.h"
#include "sqz/report/measures.h"

namespace sqz::report {

std::string sensitivity_csv(const std::vector<SensitivityPoint>& points);
std::string sensitivity_json(const std::vector<SensitivityPoint>& points, const Accuracy& baseline,
                             const std::map<std::string, double>& proposal, double target);
// model: the layers' order (a line per convolution).
std::string sensitivity_svg(const Model& model, const Sensitivity& s, int64_t images);

}  // namespace sqz::report
