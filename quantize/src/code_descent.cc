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

namespace {

constexpr double kNever = 1e300;  // the cost of a move that cannot be made

// Each position's two moves, one centroid down (0) and up (1): the step and its change of the
// cost, from g = H e; kNever (and a step of 0) where the position cannot move that way.
struct Moves {
  std::vector<double> cost[2], step[2];
};

void price_moves(const double* h, int64_t k, const std::vector<float>& book,
                 const uint8_t* stored, const std::vector<double>& bits, double lambda,
                 const std::vector<double>& g, const std::vector<int>& code, Moves* m) {
  const int last = static_cast<int>(book.size()) - 1;
  for (int up = 0; up < 2; ++up) {
    m->cost[up].resize(static_cast<size_t>(k));
    m->step[up].resize(static_cast<size_t>(k));
    for (int64_t j = 0; j < k; ++j) {
      const int now = code[j], to = now + (up ? 1 : -1);
      const double hjj = h[j * k + j];
      if (!stored[j] || now < 0 || hjj <= 0 || to < 0 || to > last) {
        m->cost[up][j] = kNever, m->step[up][j] = 0;
        continue;
      }
      const double d = double{book[to]} - book[now];
      double cost = -2 * d * g[j] + d * d * hjj;
      if (lambda > 0) cost += lambda * (bits[to] - bits[now]);
      m->cost[up][j] = cost, m->step[up][j] = d;
    }
  }
}

struct Pair {
  int64_t i = -1, j = -1;
  int up_i = 0, up_j = 0;
  double cost = 0;
};

// The pair (i, j > i) that lowers the cost the most, below `best` (i == -1 when none does).
Pair best_pair(const double* h, int64_t k, int64_t i, const Moves& m, double best) {
  Pair p;
  p.cost = best;
  const double* hi = h + i * k;
  for (int up = 0; up < 2; ++up) {
    const double ai = m.cost[up][i];
    if (ai >= kNever) continue;
    const double t = 2 * m.step[up][i];
    for (int64_t j = i + 1; j < k; ++j) {
      const double down_j = ai + m.cost[0][j] + t * m.step[0][j] * hi[j];
      const double up_j = ai + m.cost[1][j] + t * m.step[1][j] * hi[j];
      if (down_j < p.cost) p = {i, j, up, 0, down_j};
      if (up_j < p.cost) p = {i, j, up, 1, up_j};
    }
  }
  return p;
}

}  // namespace

int64_t descend_row_pairs(const double* h, int64_t k, const std::vector<float>& book,
                          const uint8_t* stored, const std::vector<double>& bits, double lambda,
                          std::vector<double>* e_out, std::vector<int>* code_out) {
  std::vector<double>& e = *e_out;
  std::vector<int>& code = *code_out;
  std::vector<double> g(static_cast<size_t>(k), 0.0);  // H e
  double scale = 0;
  for (int64_t i = 0; i < k; ++i) {
    for (int64_t j = 0; j < k; ++j) g[i] += h[i * k + j] * e[j];
    scale = std::max(scale, h[i * k + i]);
  }
  Moves m;
  price_moves(h, k, book, stored, bits, lambda, g, code, &m);
  int64_t moved = 0;
  for (int64_t i = 0; i + 1 < k; ++i) {
    // Only clear gains, as in descend_row.
    const Pair p = best_pair(h, k, i, m, -1e-12 * scale);
    if (p.i < 0) continue;
    for (const auto& [at, up] : {std::pair{p.i, p.up_i}, std::pair{p.j, p.up_j}}) {
      const double d = m.step[up][at];
      code[at] += up ? 1 : -1;
      e[at] -= d;
      for (int64_t j = 0; j < k; ++j) g[j] -= d * h[j * k + at];
    }
    price_moves(h, k, book, stored, bits, lambda, g, code, &m);
    ++moved;
  }
  return moved;
}

}  // namespace sqz::quantize::detail
