#include "sqz/prune/prune.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace sqz::prune {
namespace {

bool is_kept(const Layer& l, size_t i) { return l.mask.empty() || l.mask[i]; }

// Without a mask, the non-zeros count as kept (an imported sparse model).
int64_t kept_count(const Layer& l) {
  return l.mask.empty() ? l.weight.count_nonzero() : l.stored_count();
}

// Weights per pruning unit: the kernel window for kKernel, else 1.
int64_t unit_size(const Layer& l, Granularity g) {
  const Shape& s = l.weight.shape;
  if (g == Granularity::kWeight || s.size() < 3) return 1;
  return std::max<int64_t>(1, l.weight.numel() / (s[0] * s[1]));
}

struct Unit {
  double score;   // |w| for single weights, RMS for kernels
  int64_t index;  // unit j covers positions [j*u, (j+1)*u)
};

// The units holding a kept weight, in position order.
std::vector<Unit> kept_units(const Layer& l, int64_t u) {
  std::vector<Unit> units;
  const float* w = l.weight.data.data();
  for (int64_t j = 0; j * u < l.weight.numel(); ++j) {
    bool kept = false;
    double sq = 0;
    for (int64_t i = j * u; i < (j + 1) * u; ++i) {
      kept |= is_kept(l, static_cast<size_t>(i));
      sq += double{w[i]} * w[i];
    }
    if (kept) units.push_back({u == 1 ? std::fabs(double{w[j]}) : std::sqrt(sq / u), j});
  }
  return units;
}

// The same, largest score first (ties: lower index first).
std::vector<Unit> ranked_units(const Layer& l, int64_t u) {
  std::vector<Unit> units = kept_units(l, u);
  std::stable_sort(units.begin(), units.end(),
                   [](const Unit& a, const Unit& b) { return a.score > b.score; });
  return units;
}

// Removes the codes of positions that just left the mask, so that codes still count the
// stored positions in order.
void drop_codes(Layer& l, const std::vector<uint8_t>& old_mask) {
  if (!l.quant.active()) return;
  std::vector<uint8_t> codes;
  size_t k = 0;
  for (size_t i = 0; i < l.mask.size(); ++i) {
    if (!old_mask.empty() && !old_mask[i]) continue;
    if (l.mask[i]) codes.push_back(l.quant.codes[k]);
    ++k;
  }
  l.quant.codes = std::move(codes);
}

double layer_std(const Layer& l) {
  double sum = 0, sq = 0;
  int64_t n = 0;
  for (size_t i = 0; i < l.weight.data.size(); ++i) {
    if (!is_kept(l, i)) continue;
    sum += l.weight.data[i];
    sq += double{l.weight.data[i]} * l.weight.data[i];
    ++n;
  }
  if (n < 2) return 0;
  const double mean = sum / n;
  return std::sqrt(std::max(0.0, sq / n - mean * mean));
}

// Kept weights per layer for one global threshold on the units' scores that keeps about
// `keep_total` of the pooled weights (units are taken whole, largest score first).
std::map<std::string, int64_t> global_counts(const std::vector<const Layer*>& pool,
                                             int64_t keep_total, Granularity g) {
  struct Entry {
    double score;
    size_t layer;  // index into pool
    int64_t unit;
  };
  std::vector<Entry> all;
  std::vector<int64_t> sizes;
  for (size_t k = 0; k < pool.size(); ++k) {
    sizes.push_back(unit_size(*pool[k], g));
    for (const Unit& unit : kept_units(*pool[k], sizes[k]))
      all.push_back({unit.score, k, unit.index});
  }
  // Largest score first; ties by layer, then position: one deterministic order.
  auto before = [](const Entry& a, const Entry& b) {
    return a.score != b.score ? a.score > b.score
                              : (a.layer != b.layer ? a.layer < b.layer : a.unit < b.unit);
  };
  std::map<std::string, int64_t> counts;
  for (const Layer* l : pool) counts[l->name] = 0;
  if (std::all_of(sizes.begin(), sizes.end(), [](int64_t u) { return u == 1; })) {
    // Single weights: the first keep_total in that order, without sorting the rest.
    const auto n = static_cast<size_t>(std::clamp<int64_t>(keep_total, 0, all.size()));
    std::nth_element(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(n), all.end(), before);
    for (size_t i = 0; i < n; ++i) ++counts[pool[all[i].layer]->name];
    return counts;
  }
  std::sort(all.begin(), all.end(), before);
  int64_t taken = 0;
  for (size_t i = 0; i < all.size() && taken < keep_total; ++i) {
    counts[pool[all[i].layer]->name] += sizes[all[i].layer];
    taken += sizes[all[i].layer];
  }
  return counts;
}

}  // namespace

double total_density(const Model& m) {
  int64_t kept = 0, total = 0;
  for (const Layer& l : m.layers) {
    if (l.op != OpKind::kConvolution) continue;
    kept += kept_count(l);
    total += l.weight.numel();
  }
  return total ? static_cast<double>(kept) / total : 1.0;
}

Status check_option_dependencies(const PruneOptions& o, const std::vector<std::string>& given) {
  for (const std::string& name : given)
    SQZ_RETURN_ERROR_IF(name == "schedule" && o.steps <= 1, ErrorCode::kInvalidArgument,
                        "`schedule` spaces the pruning steps: it needs `steps` above 1");
  return Status::ok();
}

Status check_options(const Model& m, const PruneOptions& o) {
  SQZ_RETURN_IF_ERROR(check_float_weights(m));
  auto bad_density = [](double d) { return !(d > 0.0 && d <= 1.0); };
  if (o.criterion != Criterion::kQuality)
    SQZ_RETURN_ERROR_IF(bad_density(o.density), ErrorCode::kInvalidArgument,
                        "density " + std::to_string(o.density) + " is outside (0, 1]");
  else
    SQZ_RETURN_ERROR_IF(!(o.quality >= 0.0) || !std::isfinite(o.quality),
                        ErrorCode::kInvalidArgument,
                        "quality " + std::to_string(o.quality) + " must be >= 0");
  SQZ_RETURN_ERROR_IF(o.steps < 1 || o.steps > 1000, ErrorCode::kInvalidArgument,
                      "steps must be in 1..1000");
  for (const auto& [name, d] : o.layer_density) {
    const Layer* l = m.find_layer(name);
    SQZ_RETURN_ERROR_IF(!l, ErrorCode::kNotFound, "no layer named '" + name + "' in the model");
    SQZ_RETURN_ERROR_IF(l->op != OpKind::kConvolution, ErrorCode::kInvalidArgument,
                        "layer '" + name + "' is a " + op_name(l->op) + ", it has no weights");
    SQZ_RETURN_ERROR_IF(
        bad_density(d), ErrorCode::kInvalidArgument,
        "layer '" + name + "': density " + std::to_string(d) + " is outside (0, 1]");
  }
  return Status::ok();
}

double scheduled_density(double start, double target, int step, int steps, Schedule schedule) {
  if (step >= steps || target >= start) return std::min(start, target);
  const double t = static_cast<double>(step) / steps;
  if (schedule == Schedule::kLinear) return start + (target - start) * t;
  // Zhu & Gupta 2017, Eq. 1 on sparsity s = 1 - density: s_t = s_f + (s_i - s_f)(1 - t)^3.
  const double si = 1 - start, sf = 1 - target;
  return 1 - (sf + (si - sf) * std::pow(1 - t, 3));
}

LayerReport prune_layer_to_count(Layer& l, int64_t keep, Granularity g) {
  LayerReport r;
  r.name = l.name;
  r.weights = l.weight.numel();
  r.kept_before = kept_count(l);
  const std::vector<uint8_t> old_mask = l.mask;
  const int64_t u = unit_size(l, g);
  const std::vector<Unit> ranked = ranked_units(l, u);
  const auto keep_units = std::clamp<int64_t>(u == 1 ? keep : std::llround(double(keep) / u), 0,
                                              static_cast<int64_t>(ranked.size()));
  std::vector<uint8_t> mask(l.weight.data.size(), 0);
  for (int64_t k = 0; k < keep_units; ++k)
    for (int64_t i = ranked[k].index * u; i < (ranked[k].index + 1) * u; ++i)
      mask[static_cast<size_t>(i)] = old_mask.empty() || old_mask[static_cast<size_t>(i)];
  for (size_t i = 0; i < l.weight.data.size(); ++i) {
    if (mask[i]) continue;
    if (is_kept(l, i)) r.threshold = std::max(r.threshold, double{std::fabs(l.weight.data[i])});
    l.weight.data[i] = 0.0f;
  }
  l.mask = std::move(mask);
  drop_codes(l, old_mask);
  r.kept_after = std::count(l.mask.begin(), l.mask.end(), uint8_t{1});
  return r;
}

Result<std::vector<LayerReport>> prune_once(Model& m, const PruneOptions& o) {
  SQZ_RETURN_IF_ERROR(check_options(m, o));
  std::vector<LayerReport> reports;
  std::map<std::string, int64_t> keep;
  std::vector<const Layer*> pool;
  for (const Layer& l : m.layers) {
    if (l.op != OpKind::kConvolution) continue;
    auto it = o.layer_density.find(l.name);
    const int64_t n = l.weight.numel();
    if (it != o.layer_density.end()) {
      keep[l.name] = std::llround(it->second * n);
    } else if (o.criterion == Criterion::kDensity) {
      keep[l.name] = std::llround(o.density * n);
    } else if (o.criterion == Criterion::kQuality) {
      const double threshold = o.quality * layer_std(l);
      int64_t k = 0;
      for (size_t i = 0; i < l.weight.data.size(); ++i)
        k += is_kept(l, i) && std::fabs(l.weight.data[i]) >= threshold;
      keep[l.name] = k;
    } else {
      pool.push_back(&l);
    }
  }
  if (!pool.empty()) {
    int64_t pooled = 0;
    for (const Layer* l : pool) pooled += l->weight.numel();
    for (const auto& [name, k] :
         global_counts(pool, std::llround(o.density * pooled), o.granularity))
      keep[name] = k;
  }
  for (Layer& l : m.layers)
    if (l.op == OpKind::kConvolution)
      reports.push_back(
          prune_layer_to_count(l, std::min(keep[l.name], kept_count(l)), o.granularity));
  return reports;
}

Result<std::vector<StepReport>> prune_iteratively(Model& m, const PruneOptions& o,
                                                  RetrainHook* hook) {
  SQZ_RETURN_IF_ERROR(check_options(m, o));
  std::map<std::string, double> start;
  for (const Layer& l : m.layers)
    if (l.op == OpKind::kConvolution)
      start[l.name] = static_cast<double>(kept_count(l)) / static_cast<double>(l.weight.numel());
  const double start_total = total_density(m);
  std::vector<StepReport> out;
  for (int step = 1; step <= o.steps; ++step) {
    PruneOptions s = o;
    s.steps = 1;
    if (o.criterion == Criterion::kQuality) {
      s.quality = o.quality * step / o.steps;  // the threshold grows to its final value
    } else if (o.criterion == Criterion::kGlobalDensity) {
      s.density = scheduled_density(start_total, o.density, step, o.steps, o.schedule);
    }
    if (o.criterion == Criterion::kDensity) {
      // Per layer from its own starting density.
      for (const Layer& l : m.layers)
        if (l.op == OpKind::kConvolution && !o.layer_density.count(l.name))
          s.layer_density[l.name] = std::max(
              1e-9, scheduled_density(start[l.name], o.density, step, o.steps, o.schedule));
    }
    for (auto& [name, d] : s.layer_density)
      if (o.layer_density.count(name))
        d = std::max(1e-9, scheduled_density(start[name], o.layer_density.at(name), step, o.steps,
                                             o.schedule));
    StepReport report;
    report.step = step;
    SQZ_ASSIGN_OR_RETURN(report.layers, prune_once(m, s));
    if (hook) {
      SQZ_RETURN_IF_ERROR(hook->retrain(m, step, o.steps, false));
      for (Layer& l : m.layers)
        if (l.op == OpKind::kConvolution) report.mask_violations_reset += enforce_mask(l);
    }
    out.push_back(std::move(report));
  }
  return out;
}

}  // namespace sqz::prune
