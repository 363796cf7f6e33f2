// Error-compensating code assignment (gptq.h). A layer's rows (output channels) are
// independent given H, so each group is solved once: H damped and permuted, its inverse
// factored, then every row of the group swept through the positions in that order.
#include "sqz/quantize/gptq.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "cholesky.h"
#include "code_descent.h"
#include "damping.h"
#include "nearest.h"

namespace sqz::quantize {
namespace {

using detail::cholesky_lower;
using detail::nearest;

// The rows of one group in the sweep's position order (perm[i] = OIHW offset in the row).
struct GroupRows {
  int64_t k = 0, count = 0;
  std::vector<int64_t> perm;
  std::vector<double> w;         // count x k weights, moved by the sweep
  std::vector<uint8_t> stored;   // count x k
  std::vector<int> code;         // count x k: the code chosen, -1 where pruned
  // Rate-aware choice (GptqOptions::rate_weight): each code's length in bits and the price of
  // a bit in the sweep's units; lambda 0: the nearest centroid.
  std::vector<double> bits;
  double lambda = 0;
};

// The damped, permuted k x k block of group g: dead inputs (H[i][i] == 0) get 1 on the
// diagonal (their weights then only meet their own rounding), then damping x mean diagonal.
std::vector<double> damped_block(const InputMoment& m, int64_t g, const std::vector<int64_t>& perm,
                                 double damping) {
  const int64_t k = m.k;
  const double* h = m.h.data() + g * k * k;
  std::vector<double> out(static_cast<size_t>(k * k));
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = 0; j < k; ++j) out[i * k + j] = h[perm[i] * k + perm[j]];
  detail::damp_diagonal(out.data(), k, damping, detail::mean_diagonal(h, k));
  return out;
}

// U upper triangular with H^-1 = U^T U (GPTQ's factor): row i of U is row i of the inverse of
// H restricted to positions i.. (those not yet assigned), divided by the square root of its
// diagonal.
bool inverse_upper_factor(std::vector<double> h, int64_t n, std::vector<double>* u) {
  if (!cholesky_lower(h, n)) return false;
  // inv = L^-1 (lower), by forward substitution column by column.
  std::vector<double> inv(static_cast<size_t>(n * n), 0.0);
  for (int64_t c = 0; c < n; ++c) {
    inv[c * n + c] = 1 / h[c * n + c];
    for (int64_t i = c + 1; i < n; ++i) {
      double s = 0;
      for (int64_t p = c; p < i; ++p) s -= h[i * n + p] * inv[p * n + c];
      inv[i * n + c] = s / h[i * n + i];
    }
  }
  // H^-1 = L^-T L^-1, then its Cholesky factor, transposed.
  std::vector<double> hinv(static_cast<size_t>(n * n), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j <= i; ++j) {
      double s = 0;
      for (int64_t p = i; p < n; ++p) s += inv[p * n + i] * inv[p * n + j];
      hinv[i * n + j] = hinv[j * n + i] = s;
    }
  if (!cholesky_lower(hinv, n)) return false;
  u->assign(static_cast<size_t>(n * n), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i; j < n; ++j) (*u)[i * n + j] = hinv[j * n + i];
  return true;
}

// Position i of a row: its level and code (-1 and 0 where pruned): the nearest centroid, or
// with a price on bits the centroid near it with the least (w - q)^2 / v + lambda * bits,
// v the position's variance in the sweep (ECSQ, Chou, Lookabaugh & Gray 1989; for network
// weights Choi et al., ICLR 2017).
double level(const GroupRows& g, const std::vector<float>& book, double w, bool stored, double v,
             int* code) {
  if (!stored) {
    *code = -1;
    return 0;
  }
  *code = nearest(book, w);
  if (g.lambda > 0) {
    const int n = static_cast<int>(book.size()), at = *code;
    double best = std::numeric_limits<double>::infinity();
    for (int c = std::max(0, at - 2); c <= std::min(n - 1, at + 2); ++c) {
      const double d = w - book[static_cast<size_t>(c)];
      const double cost = d * d / v + g.lambda * g.bits[static_cast<size_t>(c)];
      if (cost < best) best = cost, *code = c;
    }
  }
  return book[static_cast<size_t>(*code)];
}

// The fast sweep: every row through U's rows, one position at a time.
void sweep_rows_factored(const std::vector<double>& u, const std::vector<float>& book,
                         GroupRows& g) {
  const int64_t k = g.k;
  for (int64_t r = 0; r < g.count; ++r) {
    double* w = g.w.data() + r * k;
    for (int64_t i = 0; i < k; ++i) {
      const double d = u[i * k + i];
      const double q = level(g, book, w[i], g.stored[r * k + i], d * d, &g.code[r * k + i]);
      const double err = (w[i] - q) / d;
      const double* ui = u.data() + i * k;
      for (int64_t j = i + 1; j < k; ++j) w[j] -= err * ui[j];
    }
  }
}

// The naive sweep: the inverse of the unassigned positions' H kept explicitly (OBC, Eq. 3-4):
// after position i, H^-1 <- H^-1 - H^-1[:, i] H^-1[i, :] / H^-1[i, i] over the rest.
bool sweep_rows_explicit(const std::vector<double>& h, const std::vector<float>& book,
                         GroupRows& g) {
  const int64_t k = g.k;
  // Gauss-Jordan inverse (h is symmetric positive definite: no pivoting needed).
  std::vector<double> a = h, inv(static_cast<size_t>(k * k), 0.0);
  for (int64_t i = 0; i < k; ++i) inv[i * k + i] = 1;
  for (int64_t c = 0; c < k; ++c) {
    const double p = a[c * k + c];
    if (!(p > 0)) return false;
    for (int64_t j = 0; j < k; ++j) a[c * k + j] /= p, inv[c * k + j] /= p;
    for (int64_t i = 0; i < k; ++i) {
      if (i == c) continue;
      const double f = a[i * k + c];
      for (int64_t j = 0; j < k; ++j) a[i * k + j] -= f * a[c * k + j], inv[i * k + j] -= f * inv[c * k + j];
    }
  }
  for (int64_t i = 0; i < k; ++i) {
    const double d = inv[i * k + i];
    if (!(d > 0)) return false;
    for (int64_t r = 0; r < g.count; ++r) {
      double* w = g.w.data() + r * k;
      const double q = level(g, book, w[i], g.stored[r * k + i], d, &g.code[r * k + i]);
      const double err = (w[i] - q) / d;
      for (int64_t j = i + 1; j < k; ++j) w[j] -= err * inv[i * k + j];
    }
    for (int64_t a1 = i + 1; a1 < k; ++a1)
      for (int64_t b1 = i + 1; b1 < k; ++b1)
        inv[a1 * k + b1] -= inv[a1 * k + i] * inv[i * k + b1] / d;
  }
  return true;
}

// e^T H e for a row's error e (OIHW order within the row) and group block h.
double quadratic(const std::vector<double>& e, const double* h, int64_t k) {
  double s = 0;
  for (int64_t i = 0; i < k; ++i) {
    if (e[i] == 0) continue;
    double t = 0;
    for (int64_t j = 0; j < k; ++j) t += h[i * k + j] * e[j];
    s += e[i] * t;
  }
  return s;
}

std::vector<int64_t> position_order(const InputMoment& m, int64_t g, bool act_order) {
  std::vector<int64_t> perm(static_cast<size_t>(m.k));
  std::iota(perm.begin(), perm.end(), 0);
  if (act_order) {
    const double* h = m.h.data() + g * m.k * m.k;
    std::stable_sort(perm.begin(), perm.end(),
                     [&](int64_t a, int64_t b) { return h[a * m.k + a] > h[b * m.k + b]; });
  }
  return perm;
}

enum class Sweep { kFactored, kExplicit };

// Bits of each code under the layer's nearest-centroid histogram (what Huffman coding will
// about spend), with half a count added so that no code is free or infinite.
std::vector<double> code_bits(const Layer& layer) {
  const size_t n = layer.quant.codebook.size();
  std::vector<double> count(n, 0.5), bits(n);
  for (uint8_t c : layer.quant.codes) count[c] += 1;
  const double total = static_cast<double>(layer.quant.codes.size()) + 0.5 * static_cast<double>(n);
  for (size_t c = 0; c < n; ++c) bits[c] = -std::log2(count[c] / total);
  return bits;
}

// The price of a bit for a group: rate_weight times the slope of distortion against rate
// at the group's own operating point, 2 ln 2 times its mean distortion per weight with
// nearest codes (D(R) ~ 2^-2R for fine quantization), in the sweep's units.
double bit_price(const GroupRows& g, const std::vector<double>& u,
                 const std::vector<float>& book, double rate_weight) {
  double sum = 0;
  int64_t stored = 0;
  for (int64_t r = 0; r < g.count; ++r)
    for (int64_t i = 0; i < g.k; ++i) {
      if (!g.stored[r * g.k + i]) continue;
      const double w = g.w[r * g.k + i], d = u[i * g.k + i];
      const double e = (w - book[nearest(book, w)]) / d;
      sum += e * e;
      ++stored;
    }
  return stored ? rate_weight * 2 * std::log(2.0) * sum / static_cast<double>(stored) : 0.0;
}

// The codes of one group's rows by the sweep; false when H cannot be factored at any damping.
bool sweep_group(const Layer& layer, const std::vector<float>& original, const InputMoment& m,
                 int64_t g, const GptqOptions& o, Sweep how, GroupRows* rows) {
  const int64_t k = m.k, ocg = layer.weight.shape[0] / m.groups;
  GroupRows& gr = *rows;
  gr.k = k;
  gr.count = ocg;
  gr.perm = position_order(m, g, o.act_order);
  gr.w.assign(static_cast<size_t>(ocg * k), 0.0);
  gr.stored.assign(static_cast<size_t>(ocg * k), 0);
  gr.code.assign(static_cast<size_t>(ocg * k), -1);
  for (int64_t r = 0; r < ocg; ++r)
    for (int64_t i = 0; i < k; ++i) {
      const int64_t at = (g * ocg + r) * k + gr.perm[i];
      gr.w[r * k + i] = original[at];
      gr.stored[r * k + i] = layer.mask.empty() ? original[at] != 0.0f : layer.mask[at];
    }
  // A Hessian too ill-conditioned to factor gets ten times the damping, up to four times.
  double damping = o.damping;
  for (int attempt = 0; attempt < 5; ++attempt, damping = std::max(damping * 10, 1e-6)) {
    const std::vector<double> h = damped_block(m, g, gr.perm, damping);
    std::vector<double> u;
    if (!inverse_upper_factor(h, k, &u)) continue;
    if (o.rate_weight > 0) {
      gr.bits = code_bits(layer);
      gr.lambda = bit_price(gr, u, layer.quant.codebook, o.rate_weight);
    }
    if (how == Sweep::kExplicit) {
      if (sweep_rows_explicit(h, layer.quant.codebook, gr)) return true;
      continue;
    }
    sweep_rows_factored(u, layer.quant.codebook, gr);
    return true;
  }
  return false;
}

// The price of a bit in e^T H e units for group g: as bit_price, the group's mean distortion
// per weight with nearest codes (H's diagonal weighing each) times rate_weight x 2 ln 2.
double bit_price_in_h(const Layer& layer, const std::vector<float>& original, const double* h,
                      int64_t g, int64_t ocg, int64_t k, double rate_weight) {
  double sum = 0;
  int64_t stored = 0;
  const std::vector<float>& book = layer.quant.codebook;
  for (int64_t row = g * ocg; row < (g + 1) * ocg; ++row)
    for (int64_t i = 0; i < k; ++i) {
      if (!layer.mask.empty() && !layer.mask[row * k + i]) continue;
      const double w = original[row * k + i], e = w - book[nearest(book, w)];
      sum += h[i * k + i] * e * e;
      ++stored;
    }
  return stored ? rate_weight * 2 * std::log(2.0) * sum / static_cast<double>(stored) : 0.0;
}

// Coordinate descent (code_descent.h) on every row of group g, after the sweep: single
// changes, then pair moves alternated with single changes.
void descend_group(Layer& layer, const std::vector<float>& original, const InputMoment& m,
                   int64_t g, const std::vector<int64_t>& row_code, const GptqOptions& o,
                   GptqStats* stats) {
  const int64_t k = m.k, ocg = layer.weight.shape[0] / m.groups;
  const double* h = m.h.data() + g * k * k;
  const std::vector<float>& book = layer.quant.codebook;
  std::vector<double> bits;
  double lambda = 0;
  if (o.rate_weight > 0) {
    bits = code_bits(layer);
    lambda = bit_price_in_h(layer, original, h, g, ocg, k, o.rate_weight);
  }
  std::vector<double> e(static_cast<size_t>(k));
  std::vector<int> code(static_cast<size_t>(k));
  std::vector<uint8_t> stored(static_cast<size_t>(k));
  for (int64_t row = g * ocg; row < (g + 1) * ocg; ++row) {
    const int64_t base = row * k;
    int64_t c = row_code[row];
    for (int64_t i = 0; i < k; ++i) {
      stored[i] = layer.mask.empty() || layer.mask[base + i];
      code[i] = stored[i] ? layer.quant.codes[c++] : -1;
      e[i] = double{original[base + i]} - layer.weight.data[base + i];
    }
    const double before = quadratic(e, h, k);
    int64_t changes = detail::descend_row(h, k, book, stored.data(), bits, lambda,
                                          o.descent_passes, &e, &code);
    for (int pass = 0; pass < o.pair_passes; ++pass) {
      const int64_t pairs = detail::descend_row_pairs(h, k, book, stored.data(), bits, lambda,
                                                      &e, &code);
      if (pairs == 0) break;
      stats->pair_moves += pairs;
      changes += 2 * pairs + detail::descend_row(h, k, book, stored.data(), bits, lambda,
                                                 o.descent_passes, &e, &code);
    }
    if (changes == 0) continue;
    stats->descent_changes += changes;
    stats->error += quadratic(e, h, k) - before;
    c = row_code[row];
    for (int64_t i = 0; i < k; ++i) {
      if (!stored[i]) continue;
      layer.quant.codes[c++] = static_cast<uint8_t>(code[i]);
      layer.weight.data[base + i] = book[code[i]];
    }
  }
}

// Each row's first code, and the end: codes are stored in OIHW order of the stored positions.
std::vector<int64_t> row_first_codes(const Layer& layer, int64_t k) {
  std::vector<int64_t> row_code(static_cast<size_t>(layer.weight.shape[0]) + 1, 0);
  for (int64_t r = 0; r < layer.weight.shape[0]; ++r) {
    int64_t n = 0;
    for (int64_t i = 0; i < k; ++i) n += layer.mask.empty() || layer.mask[r * k + i];
    row_code[r + 1] = row_code[r] + n;
  }
  return row_code;
}

// A row's output error (e^T H e) with its current (rounded) codes and with the sweep's, and
// each one's cost: the error plus, with a price on bits, lambda times the bits it spends.
struct RowErrors {
  double rounded = 0, swept = 0, rounded_cost = 0, swept_cost = 0;
};

RowErrors row_errors(const Layer& layer, const std::vector<float>& original, const double* h,
                     const GroupRows& gr, bool swept, int64_t r, int64_t row, int64_t k,
                     const std::vector<int64_t>& row_code, std::vector<double>* e) {
  const int64_t base = row * k;
  for (int64_t i = 0; i < k; ++i) (*e)[i] = double{original[base + i]} - layer.weight.data[base + i];
  RowErrors out;
  out.rounded = out.swept = out.rounded_cost = out.swept_cost = quadratic(*e, h, k);
  if (!swept) return out;
  if (gr.lambda > 0)
    for (int64_t c = row_code[row]; c < row_code[row + 1]; ++c)
      out.rounded_cost += gr.lambda * gr.bits[layer.quant.codes[c]];
  for (int64_t i = 0; i < k; ++i) {
    const int c = gr.code[r * k + i];
    const int64_t at = base + gr.perm[i];
    (*e)[gr.perm[i]] = double{original[at]} - (c < 0 ? 0.0 : layer.quant.codebook[c]);
  }
  out.swept = out.swept_cost = quadratic(*e, h, k);
  if (gr.lambda > 0)
    for (int64_t i = 0; i < k; ++i)
      if (gr.code[r * k + i] >= 0) out.swept_cost += gr.lambda * gr.bits[gr.code[r * k + i]];
  return out;
}

// Writes row r's codes from the sweep (un-permuted into OIHW order) and their weights.
void adopt_swept_row(Layer& layer, const GroupRows& gr, int64_t r, int64_t row, int64_t k,
                     int64_t first_code) {
  const int64_t base = row * k;
  std::vector<int> by_position(static_cast<size_t>(k), -1);
  for (int64_t i = 0; i < k; ++i) by_position[gr.perm[i]] = gr.code[r * k + i];
  int64_t c = first_code;
  for (int64_t i = 0; i < k; ++i) {
    if (!layer.mask.empty() && !layer.mask[base + i]) continue;
    const int code = by_position[i];
    layer.quant.codes[c++] = static_cast<uint8_t>(code);
    layer.weight.data[base + i] = layer.quant.codebook[code];
  }
}

Result<GptqStats> assign(Layer& layer, const std::vector<float>& original, const InputMoment& m,
                         const GptqOptions& o, Sweep how) {
  SQZ_RETURN_IF_ERROR(check_moment(layer, m));
  SQZ_RETURN_ERROR_IF(original.size() != layer.weight.data.size(), ErrorCode::kInvalidArgument,
                      "layer '" + layer.name + "': the original weights do not fit the layer");
  const int64_t k = m.k, ocg = layer.weight.shape[0] / m.groups;
  const std::vector<int64_t> row_code = row_first_codes(layer, k);
  GptqStats stats;
  std::vector<double> e(static_cast<size_t>(k));
  for (int64_t g = 0; g < m.groups; ++g) {
    GroupRows gr;
    const bool swept = sweep_group(layer, original, m, g, o, how, &gr);
    const double* h = m.h.data() + g * k * k;
    for (int64_t r = 0; r < ocg; ++r) {
      const int64_t row = g * ocg + r;
      const RowErrors re = row_errors(layer, original, h, gr, swept, r, row, k, row_code, &e);
      stats.nearest_error += re.rounded;
      ++stats.rows;
      // Each row keeps whichever of the sweep and plain rounding costs less.
      if (!swept || re.swept_cost >= re.rounded_cost) {
        stats.error += re.rounded;
        ++stats.rows_nearest;
        continue;
      }
      stats.error += re.swept;
      adopt_swept_row(layer, gr, r, row, k, row_code[row]);
    }
    if (o.descent_passes > 0 || o.pair_passes > 0)
      descend_group(layer, original, m, g, row_code, o, &stats);
  }
  return stats;
}

}  // namespace

Status check_moment(const Layer& layer, const InputMoment& m) {
  SQZ_RETURN_ERROR_IF(layer.op != OpKind::kConvolution || !layer.quant.active() ||
                          layer.quant.codebook.empty(),
                      ErrorCode::kInvalidArgument,
                      "layer '" + layer.name + "' is not a quantized convolution");
  const Shape& w = layer.weight.shape;
  const int64_t k = w.size() == 4 ? w[1] * w[2] * w[3] : 0;
  SQZ_RETURN_ERROR_IF(m.k != k || m.groups != layer.conv.groups || m.groups < 1 ||
                          w[0] % m.groups != 0 ||
                          m.h.size() != static_cast<size_t>(m.groups * k * k),
                      ErrorCode::kInvalidArgument,
                      "layer '" + layer.name + "': its input statistics do not fit its weights");
  for (int64_t g = 0; g < m.groups; ++g)
    for (int64_t i = 0; i < k; ++i)
      SQZ_RETURN_ERROR_IF(!(m.h[(g * k + i) * k + i] >= 0), ErrorCode::kInvalidArgument,
                          "layer '" + layer.name + "': its input statistics are not valid");
  for (double v : m.h)
    SQZ_RETURN_ERROR_IF(!std::isfinite(v), ErrorCode::kInvalidArgument,
                        "layer '" + layer.name + "': its input statistics are not finite");
  SQZ_RETURN_ERROR_IF(
      layer.quant.codes.size() != static_cast<size_t>(layer.stored_count()),
      ErrorCode::kInvalidArgument, "layer '" + layer.name + "': its codes do not fit its mask");
  return Status::ok();
}

double reconstruction_error(const Layer& layer, const std::vector<float>& original,
                            const InputMoment& m) {
  const int64_t k = m.k, rows = layer.weight.shape[0], ocg = rows / m.groups;
  std::vector<double> e(static_cast<size_t>(k));
  double total = 0;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t i = 0; i < k; ++i)
      e[i] = double{original[r * k + i]} - layer.weight.data[r * k + i];
    total += quadratic(e, m.h.data() + (r / ocg) * k * k, k);
  }
  return total;
}

Result<GptqStats> assign_codes(Layer& layer, const std::vector<float>& original,
                               const InputMoment& moment, const GptqOptions& options) {
  return assign(layer, original, moment, options, Sweep::kFactored);
}

namespace ref {
Result<GptqStats> assign_codes(Layer& layer, const std::vector<float>& original,
                               const InputMoment& moment, const GptqOptions& options) {
  return assign(layer, original, moment, options, Sweep::kExplicit);
}
}  // namespace ref

}  // namespace sqz::quantize
