#include "sqz/pipeline/sensitivity.h"

#include <algorithm>
#include <cmath>

#include "sqz/prune/prune.h"

namespace sqz::pipeline {
namespace {

// Smallest density per layer whose agreement is at least `floor` (1.0 if none).
std::map<std::string, double> densities_at(const std::vector<SensitivityPoint>& pts, double floor) {
  std::map<std::string, double> best;
  for (const SensitivityPoint& p : pts) {
    double& d = best.try_emplace(p.layer, 1.0).first->second;
    if (p.acc.agreement >= floor) d = std::min(d, p.density);
  }
  return best;
}

}  // namespace

Result<Sensitivity> sensitivity_sweep(const Model& model, const ImageSet& images,
                                      const std::vector<double>& densities, int threads,
                                      Observer* observer) {
  for (double d : densities)
    SQZ_RETURN_ERROR_IF(!(d > 0 && d <= 1), ErrorCode::kInvalidArgument,
                        "densities must be in (0, 1]");
  Sensitivity out;
  SQZ_ASSIGN_OR_RETURN(Scores base, score_images(model, images, threads, "baseline", observer));
  out.baseline = measure_accuracy(base, images, nullptr);
  int64_t runs = 0, total_runs = 0;
  for (const Layer& l : model.layers)
    total_runs += l.op == OpKind::kConvolution ? static_cast<int64_t>(densities.size()) : 0;
  Task task(observer, "sensitivity", total_runs);
  for (const Layer& l : model.layers) {
    if (l.op != OpKind::kConvolution) continue;
    for (double d : densities) {
      Model trial = model;
      Layer* t = trial.find_layer(l.name);
      const int64_t current = l.mask.empty() ? l.weight.count_nonzero() : l.stored_count();
      prune::prune_layer_to_count(*t,
                                  std::min<int64_t>(std::llround(d * l.weight.numel()), current));
      SQZ_ASSIGN_OR_RETURN(Scores scores, score_images(trial, images, threads, "", nullptr));
      out.points.push_back({l.name, d, t->stored_count(), t->weight.numel(),
                            measure_accuracy(scores, images, &base)});
      SQZ_RETURN_IF_ERROR(task.advance(++runs));
    }
  }
  return out;
}

std::map<std::string, double> propose_densities(const std::vector<SensitivityPoint>& pts, const Model& m,
                                      double target) {
  std::map<std::string, int64_t> weights;
  int64_t total = 0;
  for (const Layer& l : m.layers)
    if (l.op == OpKind::kConvolution) weights[l.name] = l.weight.numel(), total += l.weight.numel();
  std::map<std::string, double> chosen = densities_at(pts, 0.0);
  for (double floor = 1.0; floor >= 0.0; floor -= 0.005) {
    auto d = densities_at(pts, floor);
    double kept = 0;
    for (const auto& [name, dens] : d) kept += dens * weights[name];
    if (kept <= target * total) {
      chosen = d;
      break;
    }
  }
  return chosen;
}

}  // namespace sqz::pipeline
