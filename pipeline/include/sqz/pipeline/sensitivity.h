// Per-layer pruning sensitivity (Han et al. 2015, Sec. 4 / Fig. 6): each layer alone is
// pruned to a range of densities while the others stay untouched, and the network's accuracy
// and agreement with the unpruned model are measured on labelled images.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "sqz/core/graph.h"
#include "sqz/core/status.h"
#include "sqz/pipeline/evaluate.h"
#include "sqz/pipeline/observer.h"

namespace sqz::pipeline {

struct SensitivityPoint {
  std::string layer;
  double density;
  int64_t kept, weights;
  Accuracy acc;  // agreement and KL against the unpruned model
};

struct Sensitivity {
  Accuracy baseline;  // the unpruned model
  std::vector<SensitivityPoint> points;  // layers in model order, densities in given order
};

// Prunes each convolution alone to every density in (0, 1] (never above its current density)
// and measures it on images. Reports a task per run to observer (may be null).
Result<Sensitivity> sensitivity_sweep(const Model& model, const ImageSet& images,
                                      const std::vector<double>& densities, int threads,
                                      Observer* observer);

// Per-layer densities for a total density `target`: the smallest density of each layer whose
// agreement stays at or above one floor, with the highest floor whose total fits the target.
std::map<std::string, double> propose_densities(const std::vector<SensitivityPoint>& points,
                                                const Model& model, double target);

// Renderings: CSV (a row per point), JSON (baseline, points, proposal) and an SVG line chart
// (agreement against density, a line per layer, 100% at density 1).
std::string sensitivity_csv(const std::vector<SensitivityPoint>& points);
std::string sensitivity_json(const std::vector<SensitivityPoint>& points, const Accuracy& baseline,
                             const std::map<std::string, double>& proposal, double target);
std::string sensitivity_svg(const Model& model, const Sensitivity& s, int64_t images);

}  // namespace sqz::pipeline
