#include "sqz/quantize/quantize.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "nearest.h"

namespace sqz::quantize {
namespace {

int bits_for(const QuantizeOptions& o, const std::string& name) {
  auto it = o.layer_bits.find(name);
  return it == o.layer_bits.end() ? o.bits : it->second;
}

using detail::nearest;

// Uniform cells of width step (cell = round(x / step)): cells' weighted means as centroids.
std::vector<double> uniform_cells(const WeightedPoints& p, double step) {
  std::vector<double> c;
  double sw = 0, sx = 0;
  int64_t cell = std::numeric_limits<int64_t>::min();
  for (size_t i = 0; i < p.x.size(); ++i) {
    const int64_t ci = std::llround(p.x[i] / step);
    if (ci != cell && sw > 0) {
      c.push_back(sx / sw);
      sw = sx = 0;
    }
    cell = ci;
    sw += p.w[i];
    sx += p.w[i] * p.x[i];
  }
  if (sw > 0) c.push_back(sx / sw);
  return c;
}

// Entropy (bits) of the nearest-centroid assignment: what the codes will carry.
double assignment_entropy(const WeightedPoints& p, const std::vector<double>& c) {
  std::vector<double> mass(c.size(), 0.0);
  double total = 0;
  size_t j = 0;
  for (size_t i = 0; i < p.x.size(); ++i) {
    while (j + 1 < c.size() && p.x[i] > 0.5 * (c[j] + c[j + 1])) ++j;
    mass[j] += p.w[i];
    total += p.w[i];
  }
  double h = 0;
  for (double m : mass)
    if (m > 0) h -= m / total * std::log2(m / total);
  return h;
}

// The smallest step (finest grid) whose cell entropy is at most target and whose cell count
// is at most k, by bisection on a log scale.
std::vector<double> uniform_for_entropy(const WeightedPoints& p, int k, double target) {
  const double span = std::max(std::fabs(p.x.front()), std::fabs(p.x.back()));
  double lo = span * 1e-7, hi = span * 4;  // hi: a single cell or two
  for (int it = 0; it < 60; ++it) {
    const double mid = std::sqrt(lo * hi);
    const std::vector<double> c = uniform_cells(p, mid);
    const bool ok = c.size() <= static_cast<size_t>(k) && assignment_entropy(p, c) <= target;
    (ok ? hi : lo) = mid;
  }
  return uniform_cells(p, hi);
}

}  // namespace

Status check_option_dependencies(const QuantizeOptions& o, const std::vector<std::string>& given) {
  const bool uniform = o.method == Method::kUniform;
  const bool lloyd = !uniform && !o.exact;
  const bool random_start = lloyd && (o.init == Init::kRandom || o.init == Init::kKmeansPlusPlus);
  for (const std::string& name : given) {
    SQZ_RETURN_ERROR_IF(name == "entropy" && !uniform, ErrorCode::kInvalidArgument,
                        "`entropy` is the uniform grid's target: it needs `method` uniform");
    SQZ_RETURN_ERROR_IF(name == "exact" && uniform, ErrorCode::kInvalidArgument,
                        "`exact` is a k-means: not with `method` uniform");
    SQZ_RETURN_ERROR_IF(name == "init" && !lloyd, ErrorCode::kInvalidArgument,
                        "`init` starts Lloyd's k-means: not with `exact` or `method` uniform");
    SQZ_RETURN_ERROR_IF(name == "seed" && !random_start, ErrorCode::kInvalidArgument,
                        "`seed` draws the random or k-means++ start: it needs `init` random or "
                        "kmeans++");
  }
  return Status::ok();
}

Status check_options(const Model& model, const QuantizeOptions& o) {
  SQZ_RETURN_IF_ERROR(check_float_weights(model));
  SQZ_RETURN_ERROR_IF(o.bits < 1 || o.bits > 8, ErrorCode::kInvalidArgument,
                      "`bits` " + std::to_string(o.bits) + " is outside 1..8");
  for (const auto& [name, b] : o.layer_bits) {
    const Layer* l = model.find_layer(name);
    SQZ_RETURN_ERROR_IF(!l, ErrorCode::kNotFound, "no layer named '" + name + "' in the model");
    SQZ_RETURN_ERROR_IF(l->op != OpKind::kConvolution, ErrorCode::kInvalidArgument,
                        "layer '" + name + "' is a " + op_name(l->op) + ", it has no weights");
    SQZ_RETURN_ERROR_IF(b < 0 || b > 8, ErrorCode::kInvalidArgument,
                        "layer '" + name + "': bits " + std::to_string(b) +
                            " is outside 1..8 (0 keeps it float32)");
  }
  for (const auto& [name, k] : o.layer_centroids) {
    const Layer* l = model.find_layer(name);
    SQZ_RETURN_ERROR_IF(!l || l->op != OpKind::kConvolution, ErrorCode::kNotFound,
                        "no convolution named '" + name + "' in the model for its centroids");
    const int bits = bits_for(o, name);
    SQZ_RETURN_ERROR_IF(bits > 0 && (k < 2 || k > (1 << bits)), ErrorCode::kInvalidArgument,
                        "layer '" + name + "': " + std::to_string(k) +
                            " centroids is outside 2.." + std::to_string(1 << bits) +
                            " for its " + std::to_string(bits) + "-bit codes");
  }
  for (const Layer& l : model.layers) {
    if (l.op != OpKind::kConvolution || bits_for(o, l.name) == 0) continue;
    SQZ_RETURN_ERROR_IF(l.weight.count_nonzero() == 0, ErrorCode::kInvalidArgument,
                        "layer '" + l.name + "' has no non-zero weights to quantize");
  }
  return Status::ok();
}

Result<LayerMetrics> quantize_layer(Layer& layer, int bits, const QuantizeOptions& o) {
  SQZ_RETURN_ERROR_IF(
      bits < 1 || bits > 8, ErrorCode::kInvalidArgument,
      "layer '" + layer.name + "': bits " + std::to_string(bits) + " is outside 1..8");
  const std::vector<float> original = layer.weight.data;
  std::vector<float> values, importance;
  const std::vector<float>* imp = nullptr;
  if (o.importance) {
    auto it = o.importance->find(layer.name);
    if (it != o.importance->end() && it->second.size() == original.size()) imp = &it->second;
  }
  for (size_t i = 0; i < original.size(); ++i) {
    if (original[i] == 0.0f) continue;
    values.push_back(original[i]);
    if (imp) importance.push_back((*imp)[i]);
  }
  SQZ_RETURN_ERROR_IF(values.empty(), ErrorCode::kInvalidArgument,
                      "layer '" + layer.name + "' has no non-zero weights to quantize");
  const WeightedPoints p = make_points(values, imp ? &importance : nullptr);
  const int k = centroids_for(o, layer.name, bits);
  std::vector<double> centroids;
  if (o.method == Method::kUniform) {
    const double target = o.entropy_target > 0 ? o.entropy_target : 0.75 * std::log2(k);
    centroids = uniform_for_entropy(p, k, target);
  } else if (o.exact) {
    centroids = exact_kmeans(p, k).centroids;
  } else {
    centroids = lloyd(p, init_centroids(p, k, o.init, o.seed), o.max_iterations).centroids;
  }
  std::vector<float> codebook;
  for (double c : centroids) {
    float f = static_cast<float>(c);
    if (f == 0.0f) f = std::numeric_limits<float>::denorm_min();  // non-zeros stay non-zero
    codebook.push_back(f);
  }
  std::sort(codebook.begin(), codebook.end());
  codebook.erase(std::unique(codebook.begin(), codebook.end()), codebook.end());
  // Drop centroids no weight maps to, then assign.
  std::vector<int64_t> used(codebook.size(), 0);
  for (float v : values) ++used[nearest(codebook, v)];
  std::vector<float> kept;
  for (size_t j = 0; j < codebook.size(); ++j)
    if (used[j]) kept.push_back(codebook[j]);
  layer.quant.bits = bits;
  layer.quant.codebook = kept;
  layer.quant.codes.clear();
  layer.mask.assign(original.size(), 0);
  for (size_t i = 0; i < original.size(); ++i) {
    if (original[i] == 0.0f) continue;
    layer.mask[i] = 1;
    layer.quant.codes.push_back(nearest(kept, original[i]));
  }
  apply_codebook(layer);
  return measure(layer, original);
}

Result<std::vector<LayerMetrics>> quantize_model(Model& model, const QuantizeOptions& o) {
  SQZ_RETURN_IF_ERROR(check_options(model, o));
  std::vector<LayerMetrics> metrics;
  for (Layer& l : model.layers) {
    if (l.op != OpKind::kConvolution) continue;
    const int bits = bits_for(o, l.name);
    if (bits == 0) {
      LayerMetrics m;
      m.name = l.name;
      m.nonzeros = l.weight.count_nonzero();
      m.sqnr_db = std::numeric_limits<double>::infinity();
      l.quant = {};
      metrics.push_back(m);
      continue;
    }
    SQZ_ASSIGN_OR_RETURN(LayerMetrics m, quantize_layer(l, bits, o));
    metrics.push_back(m);
  }
  return metrics;
}

int centroids_for(const QuantizeOptions& o, const std::string& layer, int bits) {
  const int full = 1 << bits;
  auto it = o.layer_centroids.find(layer);
  return it == o.layer_centroids.end() ? full : std::clamp(it->second, 1, full);
}

int code_bits_for(int64_t centroids) {
  int bits = 1;
  while ((int64_t{1} << bits) < centroids) ++bits;
  return bits;
}

void set_layer_width(QuantizeOptions& o, const std::string& layer, int centroids) {
  const int bits = code_bits_for(centroids);
  o.layer_bits[layer] = bits;
  if (centroids == (1 << bits))
    o.layer_centroids.erase(layer);
  else
    o.layer_centroids[layer] = centroids;
}

int half_step_centroids(int bits) {
  return static_cast<int>(std::lround(std::exp2(bits - 0.5)));
}

LayerMetrics measure(const Layer& layer, const std::vector<float>& original) {
  LayerMetrics m;
  m.name = layer.name;
  m.bits = layer.quant.bits;
  m.centroids_used = static_cast<int>(layer.quant.codebook.size());
  double signal = 0, noise = 0;
  for (size_t i = 0; i < original.size(); ++i) {
    if (original[i] == 0.0f) continue;
    const double e = double{layer.weight.data[i]} - original[i];
    signal += double{original[i]} * original[i];
    noise += e * e;
    m.max_abs_error = std::max(m.max_abs_error, std::fabs(e));
    ++m.nonzeros;
  }
  m.rmse = m.nonzeros ? std::sqrt(noise / m.nonzeros) : 0;
  m.sqnr_db = noise > 0 ? 10 * std::log10(signal / noise) : std::numeric_limits<double>::infinity();
  std::vector<int64_t> hist(256, 0);
  for (uint8_t c : layer.quant.codes) ++hist[c];
  const double n = static_cast<double>(layer.quant.codes.size());
  for (int64_t h : hist)
    if (h) m.entropy_bits -= h / n * std::log2(h / n);
  return m;
}

std::vector<float> centroid_gradients(const Layer& layer, const std::vector<float>& weight_grad) {
  std::vector<double> g(layer.quant.codebook.size(), 0.0);
  size_t k = 0;
  for (size_t i = 0; i < weight_grad.size(); ++i) {
    if (!layer.mask.empty() && !layer.mask[i]) continue;
    g[layer.quant.codes[k++]] += weight_grad[i];
  }
  return {g.begin(), g.end()};
}

void apply_codebook(Layer& layer) {
  size_t k = 0;
  for (size_t i = 0; i < layer.weight.data.size(); ++i) {
    if (!layer.mask.empty() && !layer.mask[i]) continue;
    layer.weight.data[i] = layer.quant.codebook[layer.quant.codes[k++]];
  }
}

}  // namespace sqz::quantize

namespace sqz::quantize {

Status adopt_existing_values(Layer& layer) {
  std::vector<float> distinct;
  for (float w : layer.weight.data)
    if (w != 0.0f) distinct.push_back(w);
  std::sort(distinct.begin(), distinct.end());
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  SQZ_RETURN_ERROR_IF(
      distinct.empty() || distinct.size() > 256, ErrorCode::kInvalidArgument,
      "layer '" + layer.name + "' has " + std::to_string(distinct.size()) +
          " distinct non-zero weights; a codebook holds 1..256 (quantize it first)");
  layer.quant.bits = code_bits_for(static_cast<int64_t>(distinct.size()));
  layer.quant.codebook = distinct;
  layer.quant.codes.clear();
  layer.mask.assign(layer.weight.data.size(), 0);
  for (size_t i = 0; i < layer.weight.data.size(); ++i) {
    const float w = layer.weight.data[i];
    if (w == 0.0f) continue;
    layer.mask[i] = 1;
    layer.quant.codes.push_back(static_cast<uint8_t>(
        std::lower_bound(distinct.begin(), distinct.end(), w) - distinct.begin()));
  }
  return Status::ok();
}

}  // namespace sqz::quantize
