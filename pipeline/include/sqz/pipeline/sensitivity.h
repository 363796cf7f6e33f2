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
#include "sqz/report/measures.h"

namespace sqz::pipeline {

using report::Sensitivity;
using report::SensitivityPoint;

// Prunes each convolution alone to every density in (0, 1] (never above its current density)
// and measures it on images. Reports a task per run to observer (may be null).
Result<Sensitivity> sensitivity_sweep(const Model& model, const ImageSet& images,
                                      const std::vector<double>& densities, int threads,
                                      Observer* observer);

// Per-layer densities for a total density `target`: the smallest density of each layer whose
// agreement stays at or above one floor, with the highest floor whose total fits the target.
std::map<std::string, double> propose_densities(const std::vector<SensitivityPoint>& points,
                                                const Model& model, double target);

}  // namespace sqz::pipeline
