// Pooling the calibration folds of one target, with a paired bootstrap interval (Efron &
// Tibshirani 1993, Ch. 13, percentile interval): each resample draws (file, image) pairs with
// replacement and keeps model and reference of a pair together, so that the interval is of
// the difference on the same images, not of two independent accuracies.
#include <algorithm>
#include <map>
#include <random>
#include <string>
#include <utility>

#include "sqz/pipeline/report.h"

namespace sqz::pipeline {
namespace {

// Per pair: model minus reference for top-1 and top-5 (-1, 0 or 1 each).
struct PairDelta {
  int8_t top1, top5;
};

double percentile(std::vector<double>& v, double q) {
  const size_t at = std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(at), v.end());
  return v[at];
}

void bootstrap(const std::vector<PairDelta>& pairs, int resamples, uint64_t seed,
               PooledPoint* out) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<size_t> pick(0, pairs.size() - 1);
  std::vector<double> d1, d5;
  for (int r = 0; r < resamples; ++r) {
    int64_t s1 = 0, s5 = 0;
    for (size_t i = 0; i < pairs.size(); ++i) {
      const PairDelta& p = pairs[pick(rng)];
      s1 += p.top1, s5 += p.top5;
    }
    d1.push_back(static_cast<double>(s1) / static_cast<double>(pairs.size()));
    d5.push_back(static_cast<double>(s5) / static_cast<double>(pairs.size()));
  }
  out->top1_lo = percentile(d1, 0.025), out->top1_hi = percentile(d1, 0.975);
  out->top5_lo = percentile(d5, 0.025), out->top5_hi = percentile(d5, 0.975);
}

}  // namespace

std::vector<PooledPoint> pool_points(const std::vector<ModelPoint>& points, int resamples,
                                     uint64_t seed) {
  struct Group {
    PooledPoint point;
    std::vector<PairDelta> pairs;
    double agree = 0, kl = 0, weight = 0;
  };
  std::map<std::pair<int64_t, std::string>, Group> groups;
  for (size_t i = 0; i < points.size(); ++i) {
    const ModelPoint& p = points[i];
    if (p.target_bytes <= 0 || p.hits.size() != p.reference_hits.size()) continue;
    std::vector<PairDelta> mine;
    for (size_t k = 0; k < p.hits.size(); ++k) {
      if (p.hits[k] < 0 || p.reference_hits[k] < 0) continue;
      mine.push_back({static_cast<int8_t>((p.hits[k] & 1) - (p.reference_hits[k] & 1)),
                      static_cast<int8_t>((p.hits[k] >> 1) - (p.reference_hits[k] >> 1))});
    }
    if (mine.empty()) continue;
    Group& group = groups[{p.target_bytes, p.recipe}];
    PooledPoint& g = group.point;
    g.target_bytes = p.target_bytes;
    g.points.push_back(i);
    g.max_bytes = std::max(g.max_bytes, p.bytes);
    group.pairs.insert(group.pairs.end(), mine.begin(), mine.end());
    if (p.agreement >= 0) {
      group.agree += p.agreement * static_cast<double>(p.images);
      group.kl += p.mean_kl * static_cast<double>(p.images);
      group.weight += static_cast<double>(p.images);
    }
  }
  std::vector<PooledPoint> out;
  for (auto& [key, group] : groups) {
    PooledPoint& g = group.point;
    int64_t s1 = 0, s5 = 0;
    for (const PairDelta& d : group.pairs) s1 += d.top1, s5 += d.top5;
    g.images = static_cast<int64_t>(group.pairs.size());
    g.delta_top1 = static_cast<double>(s1) / static_cast<double>(g.images);
    g.delta_top5 = static_cast<double>(s5) / static_cast<double>(g.images);
    bootstrap(group.pairs, resamples, seed, &g);
    if (group.weight > 0) {
      g.agreement = group.agree / group.weight;
      g.mean_kl = group.kl / group.weight;
    }
    out.push_back(g);
  }
  return out;
}

}  // namespace sqz::pipeline
