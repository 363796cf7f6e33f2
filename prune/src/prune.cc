#include "sqz/prune/prune.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace sqz::prune {
namespace {

bool is_kept(const Layer& l, size_t i) { return l.mask.empty() || l.mask[i]; }

// Without a mask, the non-zeros count as kept (an imported sparse model).
int64_t kept_count(const Layer& l) { return l.mask.empty() ? l.weight.count_nonzero() : l.stored_count(); }

// Positions of the kept weights, largest |w| first (ties: lower index first).
std::vector<int64_t> ranked_positions(const Layer& l) {
  std::vector<int64_t> idx;
  for (size_t i = 0; i < l.weight.data.size(); ++i)
    if (is_kept(l, i)) idx.push_back(static_cast<int64_t>(i));
  std::stable_sort(idx.begin(), idx.end(), [&](int64_t a, int64_t b) {
    return std::fabs(l.weight.data[a]) > std::fabs(l.weight.data[b]);
  });
  return idx;
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

// Kept counts per layer for one global threshold keeping `keep_total` of the pooled weights.
std::map<std::string, int64_t> global_counts(const std::vector<const Layer*>& pool, int64_t keep_total) {
  std::vector<std::pair<float, const Layer*>> all;
  for (const Layer* l : pool)
    for (size_t i = 0; i < l->weight.data.size(); ++i)
      if (is_kept(*l, i)) all.emplace_back(std::fabs(l->weight.data[i]), l);
  std::map<std::string, int64_t> counts;
  for (const Layer* l : pool) counts[l->name] = 0;
  keep_total = std::clamp<int64_t>(keep_total, 0, static_cast<int64_t>(all.size()));
  std::nth_element(all.begin(), all.begin() + keep_total, all.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  for (int64_t i = 0; i < keep_total; ++i) ++counts[all[static_cast<size_t>(i)].second->name];
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

Status check_options(const Model& m, const PruneOptions& o) {
  auto bad_density = [](double d) { return !(d > 0.0 && d <= 1.0); };
  if (o.criterion != Criterion::kQuality)
    SQZ_RETURN_ERROR_IF(bad_density(o.density), ErrorCode::kInvalidArgument,
                        "density " + std::to_string(o.density) + " is outside (0, 1]");
  else
    SQZ_RETURN_ERROR_IF(!(o.quality >= 0.0) || !std::isfinite(o.quality), ErrorCode::kInvalidArgument,
                        "quality " + std::to_string(o.quality) + " must be >= 0");
  SQZ_RETURN_ERROR_IF(o.steps < 1 || o.steps > 1000, ErrorCode::kInvalidArgument,
                      "steps must be in 1..1000");
  for (const auto& [name, d] : o.layer_density) {
    const Layer* l = m.find_layer(name);
    SQZ_RETURN_ERROR_IF(!l, ErrorCode::kNotFound, "no layer named '" + name + "' in the model");
    SQZ_RETURN_ERROR_IF(l->op != OpKind::kConvolution, ErrorCode::kInvalidArgument,
                        "layer '" + name + "' is a " + op_name(l->op) + ", it has no weights");
    SQZ_RETURN_ERROR_IF(bad_density(d), ErrorCode::kInvalidArgument,
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

LayerReport prune_layer_to_count(Layer& l, int64_t keep) {
  LayerReport r;
  r.name = l.name;
  r.weights = l.weight.numel();
  r.kept_before = kept_count(l);
  const std::vector<uint8_t> old_mask = l.mask;
  std::vector<int64_t> ranked = ranked_positions(l);
  keep = std::clamp<int64_t>(keep, 0, static_cast<int64_t>(ranked.size()));
  l.mask.assign(l.weight.data.size(), 0);
  for (int64_t k = 0; k < keep; ++k) l.mask[static_cast<size_t>(ranked[k])] = 1;
  for (size_t k = static_cast<size_t>(keep); k < ranked.size(); ++k) {
    float& w = l.weight.data[static_cast<size_t>(ranked[k])];
    r.threshold = std::max(r.threshold, static_cast<double>(std::fabs(w)));
    w = 0.0f;
  }
  for (size_t i = 0; i < l.weight.data.size(); ++i)
    if (!l.mask[i]) l.weight.data[i] = 0.0f;
  drop_codes(l, old_mask);
  r.kept_after = keep;
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
    for (const auto& [name, k] : global_counts(pool, std::llround(o.density * pooled))) keep[name] = k;
  }
  for (Layer& l : m.layers)
    if (l.op == OpKind::kConvolution) reports.push_back(prune_layer_to_count(l, std::min(keep[l.name], kept_count(l))));
  return reports;
}

Result<std::vector<StepReport>> prune_iteratively(Model& m, const PruneOptions& o, RetrainHook* hook) {
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
          s.layer_density[l.name] =
              std::max(1e-9, scheduled_density(start[l.name], o.density, step, o.steps, o.schedule));
    }
    for (auto& [name, d] : s.layer_density)
      if (o.layer_density.count(name))
        d = std::max(1e-9, scheduled_density(start[name], o.layer_density.at(name), step, o.steps, o.schedule));
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
