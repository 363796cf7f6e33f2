// Least-squares targets and bias matching against drifted inputs (drift.h).
#include "sqz/quantize/drift.h"

#include <algorithm>
#include <cmath>

#include "cholesky.h"
#include "damping.h"

namespace sqz::quantize {
namespace {

// H of group g damped by damping x its mean diagonal (dead inputs get 1 first, as in gptq.cc),
// factored; the damping grows tenfold up to four times when it cannot be.
bool factor_damped(const InputMoment& m, int64_t g, double damping, std::vector<double>* l) {
  const int64_t k = m.k;
  const double* h = m.h.data() + g * k * k;
  const double mean = detail::mean_diagonal(h, k);
  for (int attempt = 0; attempt < 5; ++attempt, damping = std::max(damping * 10, 1e-6)) {
    l->assign(h, h + k * k);
    detail::damp_diagonal(l->data(), k, damping, mean);
    if (detail::cholesky_lower(*l, k)) return true;
  }
  return false;
}

double dot(const double* a, const float* b, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

}  // namespace

Status check_cross_moment(const Layer& layer, const InputMoment& own, const CrossMoment& c) {
  const Shape& w = layer.weight.shape;
  const int64_t k = w.size() == 4 ? w[1] * w[2] * w[3] : 0;
  const bool fits = layer.op == OpKind::kConvolution && k > 0 && own.k == k && c.k == k &&
                    own.groups == layer.conv.groups && c.groups == own.groups && c.groups >= 1 &&
                    w[0] % c.groups == 0 &&
                    own.h.size() == static_cast<size_t>(c.groups * k * k) &&
                    c.cross.size() == own.h.size() &&
                    c.sum.size() == static_cast<size_t>(c.groups * k) &&
                    c.reference_sum.size() == c.sum.size() && c.samples > 0;
  SQZ_RETURN_ERROR_IF(!fits, ErrorCode::kInvalidArgument,
                      "layer '" + layer.name + "': its paired input statistics do not fit it");
  for (const std::vector<double>* v : {&own.h, &c.cross, &c.sum, &c.reference_sum})
    for (double x : *v)
      SQZ_RETURN_ERROR_IF(!std::isfinite(x), ErrorCode::kInvalidArgument,
                          "layer '" + layer.name + "': its input statistics are not finite");
  return Status::ok();
}

Result<std::vector<float>> drift_target(const Layer& layer, const std::vector<float>& reference,
                                        const InputMoment& own, const CrossMoment& cross,
                                        double damping) {
  SQZ_RETURN_IF_ERROR(check_cross_moment(layer, own, cross));
  SQZ_RETURN_ERROR_IF(reference.size() != layer.weight.data.size() || !(damping >= 0),
                      ErrorCode::kInvalidArgument,
                      "layer '" + layer.name + "': the reference weights do not fit it");
  const int64_t k = own.k, rows = layer.weight.shape[0], per_group = rows / own.groups;
  std::vector<float> target = layer.weight.data;
  std::vector<double> l, rhs(static_cast<size_t>(k));
  for (int64_t g = 0; g < own.groups; ++g) {
    if (!factor_damped(own, g, damping, &l)) continue;
    const double* h = own.h.data() + g * k * k;
    const double* c = cross.cross.data() + g * k * k;
    for (int64_t r = g * per_group; r < (g + 1) * per_group; ++r) {
      const float* w = layer.weight.data.data() + r * k;
      const float* wr = reference.data() + r * k;
      for (int64_t i = 0; i < k; ++i) rhs[i] = dot(c + i * k, wr, k) - dot(h + i * k, w, k);
      detail::cholesky_solve(l, k, rhs.data());
      for (int64_t i = 0; i < k; ++i) target[r * k + i] = static_cast<float>(w[i] + rhs[i]);
    }
  }
  return target;
}

Status match_output_means(Layer& layer, const std::vector<float>& reference,
                          const std::vector<float>& reference_bias, const CrossMoment& cross) {
  const int64_t k = cross.k, rows = layer.weight.shape.empty() ? 0 : layer.weight.shape[0];
  SQZ_RETURN_ERROR_IF(
      reference.size() != layer.weight.data.size() || cross.sum.size() != static_cast<size_t>(cross.groups * k) ||
          cross.reference_sum.size() != cross.sum.size() || cross.samples <= 0 ||
          rows * k != static_cast<int64_t>(reference.size()) || rows % cross.groups != 0 ||
          (!reference_bias.empty() && reference_bias.size() != static_cast<size_t>(rows)),
      ErrorCode::kInvalidArgument, "layer '" + layer.name + "': its statistics do not fit it");
  const int64_t per_group = rows / cross.groups;
  const double n = static_cast<double>(cross.samples);
  std::vector<float> bias(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t g = r / per_group;
    const double want = dot(cross.reference_sum.data() + g * k, reference.data() + r * k, k) / n;
    const double got = dot(cross.sum.data() + g * k, layer.weight.data.data() + r * k, k) / n;
    const double b0 = reference_bias.empty() ? 0.0 : reference_bias[static_cast<size_t>(r)];
    bias[static_cast<size_t>(r)] = static_cast<float>(b0 + want - got);
  }
  layer.bias.shape = {rows};
  layer.bias.data = std::move(bias);
  layer.conv.has_bias = true;
  return Status::ok();
}

}  // namespace sqz::quantize
