#include "code_descent.h"

#include <algorithm>
#include <cmath>

#include "nearest.h"

namespace sqz::quantize::detail {

int64_t descend_row(const double* h, int64_t k, const std::vector<float>& book,
                    const uint8_t* stored, const std::vector<double>& bits, double lambda,
                    int passes, std::vector<double>* e_out, std::vector<int>* code_out) {
  std::vector<double>& e = *e_out;
  std::vector<int>& code = *code_out;
  std::vector<double> g(static_cast<size_t>(k), 0.0);  // H e
  double scale = 0;                                     // for the tolerance below
  for (int64_t i = 0; i < k; ++i) {
    for (int64_t j = 0; j < k; ++j) g[i] += h[i * k + j] * e[j];
    scale = std::max(scale, h[i * k + i]);
  }
  const int last = static_cast<int>(book.size()) - 1;
  int64_t changes = 0;
  for (int pass = 0; pass < passes; ++pass) {
    int64_t changed = 0;
    for (int64_t i = 0; i < k; ++i) {
      const double hii = h[i * k + i];
      if (!stored[i] || hii <= 0 || code[i] < 0) continue;
      const int now = code[i];
      const double vertex = book[now] + g[i] / hii;
      const int near = nearest(book, vertex);
      int best = now;
      double best_cost = 0;
      for (int c = std::max(0, near - (lambda > 0)); c <= std::min(last, near + (lambda > 0)); ++c) {
        if (c == now) continue;
        const double d = double{book[c]} - book[now];
        double cost = -2 * d * g[i] + d * d * hii;
        if (lambda > 0) cost += lambda * (bits[c] - bits[now]);
        if (cost < best_cost) best = c, best_cost = cost;
      }
      // Only clear gains: rounding must not make the descent cycle.
      if (best == now || best_cost > -1e-12 * scale) continue;
      const double d = double{book[best]} - book[now];
      code[i] = best;
      e[i] -= d;
      for (int64_t j = 0; j < k; ++j) g[j] -= d * h[j * k + i];
      ++changed;
    }
    changes += changed;
    if (changed == 0) break;
  }
  return changes;
}

}  // namespace sqz::quantize::detail
