#include "sqz/quantize/kmeans1d.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

namespace sqz::quantize {
namespace {

// Prefix sums of w, w*x, w*x^2, with x shifted by the mean to limit cancellation.
struct Prefix {
  const std::vector<double>& x;
  std::vector<double> w, s, q;
  double shift = 0;
  explicit Prefix(const WeightedPoints& p) : x(p.x), w(p.x.size() + 1), s(w.size()), q(w.size()) {
    double tw = 0, ts = 0;
    for (size_t i = 0; i < p.x.size(); ++i) tw += p.w[i], ts += p.w[i] * p.x[i];
    shift = tw > 0 ? ts / tw : 0;
    for (size_t i = 0; i < p.x.size(); ++i) {
      const double d = p.x[i] - shift;
      w[i + 1] = w[i] + p.w[i];
      s[i + 1] = s[i] + p.w[i] * d;
      q[i + 1] = q[i] + p.w[i] * d * d;
    }
  }
  // SSE of points [lo, hi) about their own mean.
  double cost(size_t lo, size_t hi) const {
    const double ww = w[hi] - w[lo];
    if (ww <= 0) return 0;
    const double ss = s[hi] - s[lo];
    return std::max(0.0, (q[hi] - q[lo]) - ss * ss / ww);
  }
  // Mean of points [lo, hi); a single point is returned exactly.
  double mean(size_t lo, size_t hi) const {
    return hi - lo == 1 ? x[lo] : (s[hi] - s[lo]) / (w[hi] - w[lo]) + shift;
  }
  // SSE of points [lo, hi) about c.
  double cost_about(size_t lo, size_t hi, double c) const {
    const double d = c - shift;
    return std::max(0.0, (q[hi] - q[lo]) - 2 * d * (s[hi] - s[lo]) + d * d * (w[hi] - w[lo]));
  }
};

// First point index of each cluster under nearest-centroid assignment (ties go low).
std::vector<size_t> cluster_starts(const WeightedPoints& p, const std::vector<double>& c) {
  std::vector<size_t> start(c.size() + 1, 0);
  for (size_t j = 1; j < c.size(); ++j) {
    const double mid = 0.5 * (c[j - 1] + c[j]);
    start[j] = static_cast<size_t>(std::upper_bound(p.x.begin(), p.x.end(), mid) - p.x.begin());
  }
  start[c.size()] = p.x.size();
  return start;
}

std::vector<double> kmeanspp(const WeightedPoints& p, int k, std::mt19937_64& rng) {
  std::vector<double> c;
  std::vector<double> d2(p.x.size(), std::numeric_limits<double>::infinity());
  std::discrete_distribution<size_t> first(p.w.begin(), p.w.end());
  c.push_back(p.x[first(rng)]);
  while (static_cast<int>(c.size()) < k) {
    std::vector<double> prob(p.x.size());
    double total = 0;
    for (size_t i = 0; i < p.x.size(); ++i) {
      const double d = p.x[i] - c.back();
      d2[i] = std::min(d2[i], d * d);
      prob[i] = p.w[i] * d2[i];
      total += prob[i];
    }
    if (total <= 0) break;  // every point already is a centroid
    std::discrete_distribution<size_t> next(prob.begin(), prob.end());
    c.push_back(p.x[next(rng)]);
  }
  std::sort(c.begin(), c.end());
  return c;
}

}  // namespace

WeightedPoints make_points(const std::vector<float>& values, const std::vector<float>* importance) {
  std::vector<std::pair<float, double>> v(values.size());
  for (size_t i = 0; i < values.size(); ++i)
    v[i] = {values[i], importance ? std::max(double{(*importance)[i]}, 1e-30) : 1.0};
  std::sort(v.begin(), v.end());
  WeightedPoints p;
  for (const auto& [x, w] : v) {
    if (!p.x.empty() && p.x.back() == x) {
      p.w.back() += w;
    } else {
      p.x.push_back(x);
      p.w.push_back(w);
    }
  }
  return p;
}

std::vector<double> init_centroids(const WeightedPoints& p, int k, Init init, uint64_t seed) {
  const size_t n = p.x.size();
  if (n == 0) return {};
  if (static_cast<size_t>(k) >= n) return p.x;
  std::vector<double> c(static_cast<size_t>(k));
  std::mt19937_64 rng(seed);
  switch (init) {
    case Init::kLinear:
      for (int j = 0; j < k; ++j)
        c[j] = k == 1 ? 0.5 * (p.x.front() + p.x.back())
                      : p.x.front() + (p.x.back() - p.x.front()) * j / (k - 1);
      return c;
    case Init::kDensity: {
      double total = 0;
      for (double w : p.w) total += w;
      double acc = 0;
      size_t i = 0;
      for (int j = 0; j < k; ++j) {
        const double target = total * (j + 0.5) / k;
        while (i + 1 < n && acc + p.w[i] < target) acc += p.w[i++];
        c[j] = p.x[i];
      }
      c.erase(std::unique(c.begin(), c.end()), c.end());
      return c;
    }
    case Init::kRandom: {
      std::vector<size_t> idx(n);
      for (size_t i = 0; i < n; ++i) idx[i] = i;
      for (int j = 0; j < k; ++j) {  // partial Fisher-Yates: k distinct points
        std::uniform_int_distribution<size_t> pick(static_cast<size_t>(j), n - 1);
        std::swap(idx[static_cast<size_t>(j)], idx[pick(rng)]);
        c[j] = p.x[idx[static_cast<size_t>(j)]];
      }
      std::sort(c.begin(), c.end());
      return c;
    }
    case Init::kKmeansPlusPlus:
      return kmeanspp(p, k, rng);
  }
  return c;
}

double assignment_sse(const WeightedPoints& p, const std::vector<double>& c) {
  if (c.empty() || p.x.empty()) return 0;
  const std::vector<size_t> start = cluster_starts(p, c);
  double sse = 0;  // summed directly: exact zero when every point is a centroid
  for (size_t j = 0; j < c.size(); ++j)
    for (size_t i = start[j]; i < start[j + 1]; ++i)
      sse += p.w[i] * (p.x[i] - c[j]) * (p.x[i] - c[j]);
  return sse;
}

Clustering lloyd(const WeightedPoints& p, std::vector<double> c, int max_iterations,
                 std::vector<double>* sse_trace) {
  Clustering out;
  if (p.x.empty() || c.empty()) return out;
  std::sort(c.begin(), c.end());
  const Prefix pre(p);
  for (out.iterations = 0; out.iterations < max_iterations; ++out.iterations) {
    const std::vector<size_t> start = cluster_starts(p, c);
    if (sse_trace) {
      double sse = 0;
      for (size_t j = 0; j < c.size(); ++j) sse += pre.cost_about(start[j], start[j + 1], c[j]);
      sse_trace->push_back(sse);
    }
    bool moved = false;
    for (size_t j = 0; j < c.size(); ++j) {
      if (start[j] == start[j + 1]) continue;  // empty: stays where it is
      const double m = pre.mean(start[j], start[j + 1]);
      moved |= m != c[j];
      c[j] = m;
    }
    std::sort(c.begin(), c.end());
    if (!moved) break;
  }
  // Drop clusters that ended empty.
  const std::vector<size_t> start = cluster_starts(p, c);
  for (size_t j = 0; j < c.size(); ++j)
    if (start[j] < start[j + 1]) out.centroids.push_back(c[j]);
  out.sse = assignment_sse(p, out.centroids);
  return out;
}

namespace {

// One DP row by divide and conquer: for i in [ilo, ihi], the best split j in [jlo, jhi]
// minimising prev[j-1] + cost(j, i], relying on the split index being monotone in i.
void dp_row(const Prefix& pre, const std::vector<double>& prev, std::vector<double>& cur,
            std::vector<int32_t>& arg, int64_t m, int64_t ilo, int64_t ihi, int64_t jlo,
            int64_t jhi) {
  if (ilo > ihi) return;
  const int64_t i = (ilo + ihi) / 2;
  double best = std::numeric_limits<double>::infinity();
  int64_t best_j = std::max(jlo, m);
  for (int64_t j = std::max(jlo, m); j <= std::min(jhi, i); ++j) {
    const double v = prev[static_cast<size_t>(j - 1)] +
                     pre.cost(static_cast<size_t>(j), static_cast<size_t>(i + 1));
    if (v < best) best = v, best_j = j;
  }
  cur[static_cast<size_t>(i)] = best;
  arg[static_cast<size_t>(i)] = static_cast<int32_t>(best_j);
  dp_row(pre, prev, cur, arg, m, ilo, i - 1, jlo, best_j);
  dp_row(pre, prev, cur, arg, m, i + 1, ihi, best_j, jhi);
}

}  // namespace

Clustering exact_kmeans(const WeightedPoints& p, int k) {
  Clustering out;
  const int64_t n = static_cast<int64_t>(p.x.size());
  if (n == 0 || k < 1) return out;
  if (k >= n) {
    out.centroids = p.x;
    return out;
  }
  const Prefix pre(p);
  // cost[m][i]: best SSE of points [0, i] in m+1 clusters; split[m][i]: first point of the
  // last cluster.
  std::vector<double> prev(static_cast<size_t>(n)), cur(static_cast<size_t>(n));
  std::vector<std::vector<int32_t>> split(static_cast<size_t>(k),
                                          std::vector<int32_t>(static_cast<size_t>(n), 0));
  for (int64_t i = 0; i < n; ++i)
    prev[static_cast<size_t>(i)] = pre.cost(0, static_cast<size_t>(i + 1));
  for (int64_t m = 1; m < k; ++m) {
    std::fill(cur.begin(), cur.end(), std::numeric_limits<double>::infinity());
    dp_row(pre, prev, cur, split[static_cast<size_t>(m)], m, m, n - 1, m, n - 1);
    std::swap(prev, cur);
  }
  out.sse = prev[static_cast<size_t>(n - 1)];
  std::vector<double> c(static_cast<size_t>(k));
  int64_t hi = n;
  for (int64_t m = k - 1; m >= 0; m -= 1) {
    const int64_t lo = m == 0 ? 0 : split[static_cast<size_t>(m)][static_cast<size_t>(hi - 1)];
    c[static_cast<size_t>(m)] = pre.mean(static_cast<size_t>(lo), static_cast<size_t>(hi));
    hi = lo;
  }
  out.centroids = c;
  return out;
}

}  // namespace sqz::quantize
