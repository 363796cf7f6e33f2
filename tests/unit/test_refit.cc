// Codebook refit under the input moment (quantize/refit.h): a case solved by hand, the naive
// twin of its normal equations, and what it must never do. Then the coordinate descent on the
// codes (GptqOptions::descent_passes) and its pair moves (pair_passes), each against a
// brute-force check of its local minimum.
#include <doctest/doctest.h>

#include <cmath>
#include <random>

#include "sqz/quantize/gptq.h"
#include "sqz/quantize/quantize.h"
#include "sqz/quantize/refit.h"
#include "test_util.h"

using namespace sqz;

namespace {

// H = sum x x^T over n fields of k correlated inputs (each a mix of a shared and an own part),
// in `groups` blocks.
quantize::InputMoment correlated_moment(std::mt19937& rng, int64_t k, int64_t groups, int n) {
  quantize::InputMoment m{k, groups, std::vector<double>(static_cast<size_t>(groups * k * k)), n};
  std::normal_distribution<double> z(0.0, 1.0);
  for (int64_t g = 0; g < groups; ++g)
    for (int s = 0; s < n; ++s) {
      const double shared = z(rng);
      std::vector<double> x(static_cast<size_t>(k));
      for (int64_t i = 0; i < k; ++i) x[i] = 0.8 * shared + 0.6 * z(rng) + 0.3;
      for (int64_t i = 0; i < k; ++i)
        for (int64_t j = 0; j < k; ++j) m.h[(g * k + i) * k + j] += x[i] * x[j];
    }
  return m;
}

// A k-input 3x3 convolution (in = k / 9) with random weights, a third of them pruned, shared
// at `bits` by k-means.
// original: the weights before sharing.
Layer shared_conv(std::mt19937& rng, int64_t in, int64_t out, int bits,
                  std::vector<float>* original = nullptr) {
  Layer l = make_conv("c", "data", in, out, 3, 1, 1);
  l.weight.data = test::random_floats(rng, l.weight.data.size());
  l.mask.assign(l.weight.data.size(), 1);
  for (size_t i = 0; i < l.mask.size(); i += 3) l.mask[i] = 0, l.weight.data[i] = 0;
  if (original) *original = l.weight.data;
  REQUIRE(quantize::quantize_layer(l, bits, {}).is_ok());
  return l;
}

double error_of(const Layer& l, const std::vector<float>& target, const quantize::InputMoment& m) {
  return quantize::reconstruction_error(l, target, m);
}

}  // namespace

TEST_CASE("refit_codebook: with H = I each centroid becomes its weights' mean") {
  Layer l = make_conv("c", "data", 4, 1, 1, 1, 0);
  l.quant.bits = 1;
  l.quant.codebook = {-1.0f, 2.0f};
  l.quant.codes = {0, 0, 1, 1};
  l.weight.data = {-1.0f, -1.0f, 2.0f, 2.0f};
  const std::vector<float> target = {-0.5f, -1.5f, 1.0f, 4.0f};  // means -1 and 2.5
  quantize::InputMoment identity{4, 1, std::vector<double>(16, 0.0), 1};
  for (int i = 0; i < 4; ++i) identity.h[i * 4 + i] = 1.0;
  auto stats = quantize::refit_codebook(l, target, identity, 0.0);
  REQUIRE(stats.is_ok());
  CHECK(stats->changed);
  CHECK(l.quant.codebook[0] == doctest::Approx(-1.0).epsilon(1e-5));
  CHECK(l.quant.codebook[1] == doctest::Approx(2.5).epsilon(1e-5));
  CHECK(l.weight.data[3] == l.quant.codebook[1]);
  CHECK(stats->error_after == doctest::Approx(0.25 + 0.25 + 2.25 + 2.25).epsilon(1e-5));
}

TEST_CASE("refit_system equals its pair-by-pair twin (pruned positions, two groups)") {
  std::mt19937 rng(11);
  Layer l = make_conv("c", "data", 4, 6, 3, 1, 1);
  l.conv.groups = 2;
  l.weight.shape = {6, 2, 3, 3};
  l.weight.data = test::random_floats(rng, 6 * 18);
  l.mask.assign(l.weight.data.size(), 1);
  for (size_t i = 1; i < l.mask.size(); i += 4) l.mask[i] = 0, l.weight.data[i] = 0;
  REQUIRE(quantize::quantize_layer(l, 3, {}).is_ok());
  const quantize::InputMoment m = correlated_moment(rng, 18, 2, 40);
  const std::vector<float> target = test::random_floats(rng, l.weight.data.size());
  const std::vector<double> fast = quantize::refit_system(l, target, m);
  const std::vector<double> naive = quantize::ref::refit_system(l, target, m);
  REQUIRE(fast.size() == naive.size());
  for (size_t i = 0; i < fast.size(); ++i)
    CHECK(fast[i] == doctest::Approx(naive[i]).epsilon(1e-9).scale(1.0));
}

TEST_CASE("refit_codebook lowers the output error after GPTQ codes, and is a minimum") {
  std::mt19937 rng(7);
  for (int bits : {2, 4}) {
    std::vector<float> target;  // the float weights: k-means fitted the codebook to them
    Layer l = shared_conv(rng, 8, 12, bits, &target);
    const quantize::InputMoment m = correlated_moment(rng, 72, 1, 300);
    quantize::GptqOptions sweep_only;  // the sweep's codes, which the refit improves on most
    sweep_only.descent_passes = 0;
    sweep_only.pair_passes = 0;
    REQUIRE(quantize::assign_codes(l, target, m, sweep_only).is_ok());
    const std::vector<uint8_t> mask = l.mask;
    auto stats = quantize::refit_codebook(l, target, m, 0.0);
    REQUIRE(stats.is_ok());
    CHECK(stats->changed);
    MESSAGE(bits << " bits: output error " << stats->error_before << " -> " << stats->error_after);
    CHECK(stats->error_after < 0.99 * stats->error_before);
    CHECK(error_of(l, target, m) == doctest::Approx(stats->error_after));
    // The codebook's rules hold and the values are the codes' centroids.
    for (size_t a = 1; a < l.quant.codebook.size(); ++a)
      CHECK(l.quant.codebook[a - 1] < l.quant.codebook[a]);
    size_t c = 0;
    for (size_t i = 0; i < l.weight.data.size(); ++i) {
      CHECK(l.mask[i] == mask[i]);
      if (!l.mask[i]) CHECK(l.weight.data[i] == 0.0f);
      else CHECK(l.weight.data[i] == l.quant.codebook.at(l.quant.codes.at(c++)));
    }
    // Moving any centroid alone, codes fixed, does not lower the error.
    for (size_t a = 0; a < l.quant.codebook.size(); ++a)
      for (float step : {-1e-3f, 1e-3f}) {
        Layer moved = l;
        moved.quant.codebook[a] += step;
        size_t p = 0;
        for (size_t i = 0; i < moved.weight.data.size(); ++i)
          if (moved.mask[i]) moved.weight.data[i] = moved.quant.codebook[moved.quant.codes[p++]];
        CHECK(error_of(moved, target, m) >= stats->error_after * (1 - 1e-9));
      }
  }
}

TEST_CASE("refit_codebook: an optimal codebook is kept; bad targets refused") {
  std::mt19937 rng(13);
  Layer l = shared_conv(rng, 4, 5, 3);
  const quantize::InputMoment m = correlated_moment(rng, 36, 1, 100);
  std::vector<float> exact = l.weight.data;  // the target the codebook already hits exactly
  for (size_t i = 0; i < exact.size(); ++i)
    if (!l.mask[i]) exact[i] = 0;
  const Layer before = l;
  auto stats = quantize::refit_codebook(l, exact, m, 0.01);
  REQUIRE(stats.is_ok());
  CHECK(!stats->changed);
  CHECK(l.quant.codebook == before.quant.codebook);
  CHECK(stats->error_after == stats->error_before);
  std::vector<float> shorter(exact.begin(), exact.end() - 1);
  CHECK(quantize::refit_codebook(l, shorter, m, 0.01).status().code() == ErrorCode::kInvalidArgument);
  exact[3] = NAN;  // (and below: a negative damping, a moment of another size)
  CHECK(quantize::refit_codebook(l, exact, m, 0.01).status().code() == ErrorCode::kInvalidArgument);
  CHECK(quantize::refit_codebook(l, exact, m, -1.0).status().code() ==
        ErrorCode::kInvalidArgument);
  quantize::InputMoment wrong = m;
  wrong.k = 9;
  CHECK(quantize::refit_codebook(l, exact, wrong, 0.01).status().code() == ErrorCode::kInvalidArgument);
}

namespace {

// e^T H e of one output channel r of a group-1 layer whose weights are `w`.
double channel_error(const std::vector<float>& w, const std::vector<float>& target,
                     const quantize::InputMoment& m, int64_t r) {
  double s = 0;
  for (int64_t i = 0; i < m.k; ++i)
    for (int64_t j = 0; j < m.k; ++j)
      s += (double{target[r * m.k + i]} - w[r * m.k + i]) * m.h[i * m.k + j] *
           (double{target[r * m.k + j]} - w[r * m.k + j]);
  return s;
}

// One generated 3x3 layer (4 inputs, `out` channels, `bits` wide) coded three times: by the
// sweep alone, with 20 passes of single changes, and with those and 100 passes of pair moves.
struct Descent {
  std::vector<float> original;
  quantize::InputMoment m;
  Layer swept, descended, paired;
  quantize::GptqStats a, b, c;
};

Descent code_twice(uint32_t seed, int64_t out, int bits, double rate_weight) {
  std::mt19937 rng(seed);
  Descent d;
  d.swept = d.descended = d.paired = shared_conv(rng, 4, out, bits, &d.original);
  d.m = correlated_moment(rng, 36, 1, 200);
  quantize::GptqOptions o;
  o.rate_weight = rate_weight;
  o.descent_passes = 0;
  o.pair_passes = 0;
  auto a = quantize::assign_codes(d.swept, d.original, d.m, o);
  o.descent_passes = 20;
  auto b = quantize::assign_codes(d.descended, d.original, d.m, o);
  o.pair_passes = 100;
  auto c = quantize::assign_codes(d.paired, d.original, d.m, o);
  REQUIRE(a.is_ok());
  REQUIRE(b.is_ok());
  REQUIRE(c.is_ok());
  d.a = *a, d.b = *b, d.c = *c;
  return d;
}

}  // namespace

TEST_CASE("code descent: lower error than the sweep alone, and no single change lowers it") {
  double sweep_total = 0, descent_total = 0;
  int64_t changes = 0;
  for (uint32_t seed : {91u, 92u, 93u}) {
    Descent d = code_twice(seed, 6, 3, 0.0);
    const std::vector<float>& original = d.original;
    const quantize::InputMoment& m = d.m;
    const Layer& descended = d.descended;
    const quantize::GptqStats *a = &d.a, *b = &d.b;
    CHECK(b->error == doctest::Approx(error_of(descended, original, m)).epsilon(1e-9));
    CHECK(b->error <= a->error);
    changes += b->descent_changes;
    sweep_total += a->error, descent_total += b->error;
    // The naive twin of the local minimum: every stored weight moved to every other centroid.
    const std::vector<float>& book = descended.quant.codebook;
    size_t code = 0;
    for (int64_t r = 0; r < 6; ++r) {
      const double at = channel_error(descended.weight.data, original, m, r);
      for (int64_t i = 0; i < m.k; ++i) {
        const size_t p = static_cast<size_t>(r * m.k + i);
        if (!descended.mask[p]) {
          CHECK(descended.weight.data[p] == 0.0f);  // pruned stays pruned
          continue;
        }
        CHECK(descended.weight.data[p] == book[descended.quant.codes[code++]]);
        std::vector<float> moved = descended.weight.data;
        for (float c : book) {
          moved[p] = c;
          CHECK(channel_error(moved, original, m, r) >= at - 1e-9 * (1 + at));
        }
      }
    }
  }
  MESSAGE("e^T H e summed over 3 layers: sweep ", sweep_total, ", with descent ", descent_total);
  CHECK(descent_total < 0.999 * sweep_total);
  CHECK(changes > 0);
}

TEST_CASE("code descent with a price on bits spends fewer bits than without the price") {
  auto bits_of = [](const Layer& l) {  // the codes' empirical entropy, times their count
    std::vector<double> count(l.quant.codebook.size(), 0.0);
    for (uint8_t c : l.quant.codes) count[c] += 1;
    double total = 0;
    for (double n : count)
      if (n > 0) total -= n * std::log2(n / static_cast<double>(l.quant.codes.size()));
    return total;
  };
  const Descent d = code_twice(95, 8, 4, 2.0);
  const Layer &plain = d.swept, &priced = d.descended;
  const quantize::GptqStats* stats = &d.b;
  MESSAGE("bits: sweep ", bits_of(plain), ", with priced descent ", bits_of(priced));
  CHECK(stats->descent_changes > 0);
  CHECK(bits_of(priced) < bits_of(plain));
  for (size_t i = 0; i < priced.weight.data.size(); ++i)
    if (!priced.mask[i]) CHECK(priced.weight.data[i] == 0.0f);
}

TEST_CASE("pair moves: lower error than single changes, and no pair of neighbour moves lowers it") {
  double single_total = 0, pair_total = 0;
  int64_t pairs = 0;
  for (uint32_t seed : {91u, 92u, 93u}) {
    const Descent d = code_twice(seed, 6, 3, 0.0);
    const Layer& paired = d.paired;
    CHECK(d.c.error == doctest::Approx(error_of(paired, d.original, d.m)).epsilon(1e-9));
    CHECK(d.c.error <= d.b.error);
    single_total += d.b.error, pair_total += d.c.error;
    pairs += d.c.pair_moves;
    // The naive twin of the local minimum: every stored weight moved to every other centroid,
    // and every two stored weights of a channel each moved one centroid up or down.
    const std::vector<float>& book = paired.quant.codebook;
    std::vector<int> code_at(paired.weight.data.size(), -1);
    size_t code = 0;
    for (size_t p = 0; p < code_at.size(); ++p)
      if (paired.mask[p]) code_at[p] = paired.quant.codes[code++];
      else CHECK(paired.weight.data[p] == 0.0f);  // pruned stays pruned
    for (int64_t r = 0; r < 6; ++r) {
      const double at = channel_error(paired.weight.data, d.original, d.m, r);
      const double tolerance = 1e-9 * (1 + at);
      std::vector<float> moved = paired.weight.data;
      for (int64_t i = 0; i < d.m.k; ++i) {
        const size_t pi = static_cast<size_t>(r * d.m.k + i);
        if (code_at[pi] < 0) continue;
        for (float c : book) {
          moved[pi] = c;
          CHECK(channel_error(moved, d.original, d.m, r) >= at - tolerance);
        }
        moved[pi] = paired.weight.data[pi];
        for (int64_t j = i + 1; j < d.m.k; ++j) {
          const size_t pj = static_cast<size_t>(r * d.m.k + j);
          if (code_at[pj] < 0) continue;
          for (int si : {-1, 1})
            for (int sj : {-1, 1}) {
              const int ci = code_at[pi] + si, cj = code_at[pj] + sj;
              if (ci < 0 || cj < 0 || ci >= static_cast<int>(book.size()) ||
                  cj >= static_cast<int>(book.size()))
                continue;
              moved[pi] = book[ci], moved[pj] = book[cj];
              CHECK(channel_error(moved, d.original, d.m, r) >= at - tolerance);
              moved[pi] = paired.weight.data[pi], moved[pj] = paired.weight.data[pj];
            }
        }
      }
    }
  }
  MESSAGE("e^T H e summed over 3 layers: single changes ", single_total, ", with pairs ",
          pair_total);
  CHECK(pairs > 0);
  CHECK(pair_total < 0.99 * single_total);
}
