#include "sqz/quantize/refit.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "cholesky.h"
#include "damping.h"

namespace sqz::quantize {
namespace {

struct RefitSystem {
  int64_t n = 0;
  std::vector<double> g;  // n x n
  std::vector<double> r;  // n
};

// Each position's code in the layer's OIHW order, -1 where pruned.
std::vector<int> codes_by_position(const Layer& layer) {
  std::vector<int> at(static_cast<size_t>(layer.weight.numel()), -1);
  size_t c = 0;
  for (size_t i = 0; i < at.size(); ++i)
    if (layer.mask.empty() || layer.mask[i]) at[i] = layer.quant.codes[c++];
  return at;
}

// G and r, one output channel at a time: the rows of H of the positions sharing a code are
// summed first (rows_of[a] = sum_{i: code a} H[i]), so that G[a][b] and r[a] need one pass
// over each code's summed row instead of every pair of positions.
RefitSystem build_system(const Layer& layer, const std::vector<float>& target,
                         const InputMoment& m) {
  const int64_t n = static_cast<int64_t>(layer.quant.codebook.size()), k = m.k;
  const int64_t ocg = layer.weight.shape[0] / m.groups;
  const std::vector<int> code = codes_by_position(layer);
  RefitSystem s{n, std::vector<double>(static_cast<size_t>(n * n)),
                std::vector<double>(static_cast<size_t>(n))};
  std::vector<double> rows_of(static_cast<size_t>(n * k));
  std::vector<int> used;
  std::vector<int64_t> seen_in(static_cast<size_t>(n), -1);  // the last row a code was seen in
  for (int64_t row = 0; row < layer.weight.shape[0]; ++row) {
    const double* h = m.h.data() + row / ocg * k * k;
    const int* c = code.data() + row * k;
    const float* t = target.data() + row * k;
    used.clear();
    for (int64_t i = 0; i < k; ++i) {
      if (c[i] < 0) continue;
      double* sum = rows_of.data() + c[i] * k;
      if (seen_in[c[i]] != row) {
        seen_in[c[i]] = row;
        used.push_back(c[i]);
        std::fill(sum, sum + k, 0.0);
      }
      for (int64_t j = 0; j < k; ++j) sum[j] += h[i * k + j];
    }
    for (int a : used) {
      const double* sum = rows_of.data() + a * k;
      double rt = 0;
      for (int64_t j = 0; j < k; ++j) {
        rt += sum[j] * t[j];
        if (c[j] >= 0) s.g[a * n + c[j]] += sum[j];
      }
      s.r[a] += rt;
    }
  }
  return s;
}

// The least-squares centroids: (G + eps I) c = r + eps c_old, eps a millionth of G's mean
// diagonal, so that a centroid no code uses (a zero row of G) keeps its value.
bool solve_centroids(RefitSystem s, const std::vector<float>& old, std::vector<double>* out) {
  const int64_t n = s.n;
  double diag = 0;
  for (int64_t a = 0; a < n; ++a) diag += s.g[a * n + a];
  const double eps = std::max(diag / static_cast<double>(n), 1e-30) * 1e-6;
  for (int64_t a = 0; a < n; ++a) {
    s.g[a * n + a] += eps;
    s.r[a] += eps * old[a];
  }
  if (!detail::cholesky_lower(s.g, n)) return false;
  detail::cholesky_solve(s.g, n, s.r.data());
  for (double v : s.r)
    if (!std::isfinite(v) || std::fabs(v) > std::numeric_limits<float>::max()) return false;
  *out = std::move(s.r);
  return true;
}

// Writes `values` as the codebook, restoring its rules: ascending (codes renumbered), no
// exact 0 (the pruned value; the smallest float of the old centroid's sign instead), no two
// equal (the later one moved up to the next float). Then the shared values.
void install_codebook(Layer& layer, const std::vector<double>& values) {
  const size_t n = values.size();
  std::vector<float> v(n);
  std::vector<size_t> order(n);
  for (size_t a = 0; a < n; ++a) {
    v[a] = static_cast<float>(values[a]);
    if (v[a] == 0.0f)
      v[a] = std::copysign(std::numeric_limits<float>::denorm_min(), layer.quant.codebook[a]);
  }
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return v[a] < v[b]; });
  std::vector<uint8_t> renumber(n);
  std::vector<float> book(n);
  for (size_t p = 0; p < n; ++p) {
    float x = v[order[p]];
    if (p > 0 && x <= book[p - 1]) x = std::nextafter(book[p - 1], INFINITY);
    if (x == 0.0f) x = std::numeric_limits<float>::denorm_min();
    book[p] = x;
    renumber[order[p]] = static_cast<uint8_t>(p);
  }
  for (uint8_t& c : layer.quant.codes) c = renumber[c];
  layer.quant.codebook = std::move(book);
  size_t c = 0;
  for (size_t i = 0; i < layer.weight.data.size(); ++i)
    if (layer.mask.empty() || layer.mask[i])
      layer.weight.data[i] = layer.quant.codebook[layer.quant.codes[c++]];
}

// The moment damped as the code sweep damps it (damping.h): centroids whose positions the
// inputs barely excite are held near the target's values there instead of fitted to the few
// fields that saw them.
InputMoment damped(const InputMoment& m, double damping) {
  InputMoment d = m;
  const int64_t k = m.k;
  for (int64_t g = 0; g < m.groups; ++g) {
    double* h = d.h.data() + g * k * k;
    detail::damp_diagonal(h, k, damping, detail::mean_diagonal(h, k));
  }
  return d;
}

}  // namespace

std::vector<double> refit_system(const Layer& layer, const std::vector<float>& target,
                                 const InputMoment& moment) {
  RefitSystem s = build_system(layer, target, moment);
  s.g.insert(s.g.end(), s.r.begin(), s.r.end());
  return s.g;
}

Result<RefitStats> refit_codebook(Layer& layer, const std::vector<float>& target,
                                  const InputMoment& undamped, double damping) {
  SQZ_RETURN_IF_ERROR(check_moment(layer, undamped));
  SQZ_RETURN_ERROR_IF(!(damping >= 0) || !std::isfinite(damping), ErrorCode::kInvalidArgument,
                      "the refit damping must be finite and not negative");
  SQZ_RETURN_ERROR_IF(target.size() != layer.weight.data.size(), ErrorCode::kInvalidArgument,
                      "layer '" + layer.name + "': the refit target does not fit its weights");
  for (float x : target)
    SQZ_RETURN_ERROR_IF(!std::isfinite(x), ErrorCode::kInvalidArgument,
                        "layer '" + layer.name + "': the refit target is not finite");
  const InputMoment moment = damped(undamped, damping);
  RefitStats stats;
  stats.error_before = reconstruction_error(layer, target, moment);
  stats.error_after = stats.error_before;
  std::vector<double> centroids;
  if (!solve_centroids(build_system(layer, target, moment), layer.quant.codebook, &centroids))
    return stats;
  const Layer before = layer;
  install_codebook(layer, centroids);
  const double after = reconstruction_error(layer, target, moment);
  if (!(after < stats.error_before)) {
    layer = before;
    return stats;
  }
  stats.error_after = after;
  stats.changed = true;
  return stats;
}

namespace ref {

std::vector<double> refit_system(const Layer& layer, const std::vector<float>& target,
                                 const InputMoment& m) {
  const int64_t n = static_cast<int64_t>(layer.quant.codebook.size()), k = m.k;
  const int64_t ocg = layer.weight.shape[0] / m.groups;
  const std::vector<int> code = codes_by_position(layer);
  std::vector<double> out(static_cast<size_t>(n * n + n));
  for (int64_t row = 0; row < layer.weight.shape[0]; ++row) {
    const double* h = m.h.data() + row / ocg * k * k;
    for (int64_t i = 0; i < k; ++i) {
      const int a = code[row * k + i];
      if (a < 0) continue;
      for (int64_t j = 0; j < k; ++j) {
        const int b = code[row * k + j];
        if (b >= 0) out[a * n + b] += h[i * k + j];
        out[n * n + a] += h[i * k + j] * target[row * k + j];
      }
    }
  }
  return out;
}

}  // namespace ref
}  // namespace sqz::quantize
