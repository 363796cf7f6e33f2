// Width allocation (bit_allocation.h): the dynamic program over each layer's (width, bytes,
// cost) table, by hand and against brute force, and the table's measurement.
#include <doctest/doctest.h>

#include <cmath>
#include <map>
#include <random>

#include "sqz/format/sqz_file.h"
#include "sqz/pipeline/bit_allocation.h"
#include "sqz/quantize/quantize.h"
#include "sqz/runtime/net.h"
#include "test_util.h"

using namespace sqz;
namespace P = sqz::pipeline;

namespace {

// Two layers, widths 3..5: a costs little per byte saved, b much.
P::BitTable two_layer_table() {
  P::BitTable t;
  t.fixed_bytes = 100;
  t.layers.push_back({"a", {{3, 30}, {4, 40}, {5, 50}}, {{3, 0.3}, {4, 0.2}, {5, 0.1}}});
  t.layers.push_back({"b", {{3, 30}, {4, 40}, {5, 50}}, {{3, 9.0}, {4, 3.0}, {5, 0.0}}});
  return t;
}

// A generated model, n random probe images and the model's outputs on them.
struct Probe {
  Model m = test::tiny_squeezenet(3, 19, 4, 0.7);
  int64_t n = 3;
  std::vector<float> images, teacher;
  explicit Probe(uint32_t seed) {
    std::mt19937 rng(seed);
    images = test::random_floats(rng, static_cast<size_t>(n * 3 * 19 * 19));
    runtime::NetOptions no;
    no.policy = runtime::KernelPolicy::kDense;
    auto net = runtime::Net::create(m, no);
    REQUIRE(net.is_ok());
    REQUIRE((*net)->forward(images.data(), n, &teacher).is_ok());
  }
};

}  // namespace

TEST_CASE("allocate_widths: fits the target, narrowing where a byte costs least") {
  const P::BitTable t = two_layer_table();
  auto all_wide = P::allocate_widths(t, 200);
  REQUIRE(all_wide.is_ok());
  CHECK(all_wide->at("a") == 5);
  CHECK(all_wide->at("b") == 5);
  CHECK(P::allocated_bytes(t, *all_wide) == 200);
  // 10 bytes less: a loses a width (0.1 per 10 bytes) before b (3.0 per 10 bytes).
  auto one_step = P::allocate_widths(t, 195);
  REQUIRE(one_step.is_ok());
  CHECK(one_step->at("a") == 4);
  CHECK(one_step->at("b") == 5);
  CHECK(P::allocated_bytes(t, *one_step) == 190);
  auto two_steps = P::allocate_widths(t, 180);
  REQUIRE(two_steps.is_ok());
  CHECK(two_steps->at("a") == 3);
  CHECK(two_steps->at("b") == 5);
  auto three_steps = P::allocate_widths(t, 170);
  REQUIRE(three_steps.is_ok());
  CHECK(three_steps->at("b") == 4);
  // Below the narrowest widths (100 + 30 + 30) is an error that names the smallest size.
  auto too_small = P::allocate_widths(t, 159);
  REQUIRE_FALSE(too_small.is_ok());
  CHECK(too_small.status().message().find("160 bytes at the narrowest widths") !=
        std::string::npos);
}

namespace {

// A random table: `layers` layers at widths 3..6, sizes growing and costs falling with the width.
P::BitTable random_table(std::mt19937& rng, int layers) {
  P::BitTable t;
  t.fixed_bytes = 50 + rng() % 100;
  for (int l = 0; l < layers; ++l) {
    P::LayerCosts c{"l" + std::to_string(l), {}, {}};
    int64_t bytes = 20 + rng() % 200;
    double kl = 0.5 + (rng() % 1000) / 100.0;
    for (int b = 3; b <= 6; ++b) {
      c.bytes[b] = bytes;
      c.kl[b] = kl;
      bytes += 10 + rng() % 150;
      kl *= (rng() % 90) / 100.0;
    }
    t.layers.push_back(c);
  }
  return t;
}

double predicted_cost(const P::BitTable& t, const std::map<std::string, int>& bits) {
  double s = 0;
  for (const P::LayerCosts& c : t.layers) s += c.kl.at(bits.at(c.layer));
  return s;
}

// The smallest summed cost within the target, by trying every choice.
double brute_force_cost(const P::BitTable& t, int64_t target) {
  double best = 1e300;
  std::map<std::string, int> bits;
  const std::function<void(size_t)> walk = [&](size_t l) {
    if (l == t.layers.size()) {
      if (P::allocated_bytes(t, bits) <= target) best = std::min(best, predicted_cost(t, bits));
      return;
    }
    for (const auto& [b, unused] : t.layers[l].bytes) {
      bits[t.layers[l].layer] = b;
      walk(l + 1);
    }
  };
  walk(0);
  return best;
}

}  // namespace

TEST_CASE("allocate_widths: optimal, within the target, never worse with more bytes") {
  std::mt19937 rng(11);
  for (int trial = 0; trial < 12; ++trial) {
    const P::BitTable t = random_table(rng, 2 + trial % 5);
    int64_t lo = t.fixed_bytes, hi = t.fixed_bytes;
    for (const P::LayerCosts& c : t.layers) lo += c.bytes.begin()->second, hi += c.bytes.rbegin()->second;
    double last = 1e300;
    for (int64_t target = lo; target <= hi + 20; target += 1 + (hi - lo) / 60) {
      INFO("trial " << trial << ", target " << target);
      auto bits = P::allocate_widths(t, target);
      REQUIRE(bits.is_ok());
      CHECK(P::allocated_bytes(t, *bits) <= target);
      const double cost = predicted_cost(t, *bits);
      CHECK(cost <= last);  // monotone in the target
      CHECK(cost == doctest::Approx(brute_force_cost(t, target)));
      last = cost;
    }
    CHECK_FALSE(P::allocate_widths(t, lo - 1).is_ok());
  }
}

TEST_CASE("allocate_widths: equal costs spend the bytes (the wider width wins a tie)") {
  // A model whose outputs no width changes (every cost 0): the target, not the narrowest
  // widths, decides.
  P::BitTable t = two_layer_table();
  for (P::LayerCosts& c : t.layers)
    for (auto& [bits, kl] : c.kl) kl = 0;
  auto all = P::allocate_widths(t, 200);
  REQUIRE(all.is_ok());
  CHECK(P::allocated_bytes(t, *all) == 200);
  auto some = P::allocate_widths(t, 185);
  REQUIRE(some.is_ok());
  CHECK(P::allocated_bytes(t, *some) == 180);
}

TEST_CASE("allocate_widths: a pinned layer (one width in its table) keeps it") {
  P::BitTable t = two_layer_table();
  t.layers[1].bytes = {{4, 40}};
  t.layers[1].kl = {{4, 3.0}};
  auto bits = P::allocate_widths(t, 200);
  REQUIRE(bits.is_ok());
  CHECK(bits->at("a") == 5);
  CHECK(bits->at("b") == 4);
}

TEST_CASE("measure_bit_costs: sizes from the encoder, cost never lower at fewer centroids") {
  const Probe p(1);
  const Model& m = p.m;
  quantize::QuantizeOptions q;
  int calls = 0;
  auto table = P::measure_bit_costs(m, P::SharingOptions{q, nullptr, {}}, {}, {4, 16, 64},
                                    p.images.data(), p.n, p.teacher, 1,
                                    [&](int done, int total) {
                                      ++calls;
                                      CHECK(done <= total);
                                    });
  REQUIRE(table.is_ok());
  int convs = 0;
  for (const Layer& l : m.layers) convs += l.op == OpKind::kConvolution;
  REQUIRE(table->layers.size() == static_cast<size_t>(convs));
  CHECK(calls == convs * 3);
  CHECK(table->fixed_bytes > 0);
  for (const P::LayerCosts& c : table->layers) {
    INFO(c.layer);
    CHECK(c.bytes.at(4) <= c.bytes.at(16));
    CHECK(c.bytes.at(16) <= c.bytes.at(64));
    CHECK(c.kl.at(4) >= c.kl.at(16));
    CHECK(c.kl.at(16) >= c.kl.at(64));
    CHECK(c.kl.at(64) >= 0);
  }
  // The table's sizes add up to the file quantized at one width everywhere.
  std::map<std::string, int> four;
  for (const P::LayerCosts& c : table->layers) four[c.layer] = 16;
  Model at4 = m;
  q.bits = 4;
  REQUIRE(quantize::quantize_model(at4, q).is_ok());
  std::string bytes;
  REQUIRE(format::encode_sqz(at4, {}, &bytes).is_ok());
  CHECK(P::allocated_bytes(*table, four) == static_cast<int64_t>(bytes.size()));
}

TEST_CASE("codebook_sizes: powers of two, and half a bit between consecutive widths") {
  CHECK(P::codebook_sizes({3, 4, 5, 6, 7, 8}, false) == std::vector<int>{8, 16, 32, 64, 128, 256});
  CHECK(P::codebook_sizes({3, 4, 5, 6, 7, 8}, true) ==
        std::vector<int>{8, 11, 16, 23, 32, 45, 64, 91, 128, 181, 256});
  CHECK(P::codebook_sizes({2, 4, 5}, true) == std::vector<int>{4, 16, 23, 32});
  CHECK(P::codebook_sizes({6}, true) == std::vector<int>{64});
}

TEST_CASE("measure_bit_costs at half steps: bytes between the whole widths, as the encoder says") {
  const Probe p(2);
  const Model& m = p.m;
  quantize::QuantizeOptions q;
  q.exact = true;
  q.layer_bits["fire/e1"] = 4;  // pinned: 16 only
  q.layer_bits["fire/e3"] = 0;  // kept float: one entry, cost 0
  auto table = P::measure_bit_costs(m, P::SharingOptions{q, nullptr, {}}, {},
                                    P::codebook_sizes({4, 5}, true), p.images.data(), p.n,
                                    p.teacher, 1,
                                    [](int, int) {});
  REQUIRE(table.is_ok());
  for (const P::LayerCosts& c : table->layers) {
    INFO(c.layer);
    if (c.layer == "fire/e3") {
      CHECK(c.bytes.size() == 1);
      CHECK(c.bytes.count(16) == 1);
      CHECK(c.kl.at(16) == 0.0);
      continue;
    }
    if (c.layer == "fire/e1") {
      CHECK(c.bytes.size() == 1);
      CHECK(c.bytes.count(16) == 1);
      continue;
    }
    REQUIRE(c.bytes.size() == 3);
    CHECK(c.bytes.at(16) < c.bytes.at(23));
    CHECK(c.bytes.at(23) < c.bytes.at(32));
    CHECK(c.kl.at(16) >= c.kl.at(23));
    CHECK(c.kl.at(23) >= c.kl.at(32));
  }
  // A choice of half widths adds up to the file shared at those codebook sizes.
  std::map<std::string, int> widths;
  for (const P::LayerCosts& c : table->layers)
    widths[c.layer] = c.layer == "fire/e1" || c.layer == "fire/e3" ? 16 : 23;
  Model shared = m;
  for (const auto& [name, k] : widths)
    if (!q.layer_bits.count(name)) quantize::set_layer_width(q, name, k);
  REQUIRE(quantize::quantize_model(shared, q).is_ok());
  std::string bytes;
  REQUIRE(format::encode_sqz(shared, {}, &bytes).is_ok());
  CHECK(P::allocated_bytes(*table, widths) == static_cast<int64_t>(bytes.size()));
  for (const Layer& l : shared.layers)
    if (l.op == OpKind::kConvolution && l.name != "fire/e1")
      CHECK(l.quant.codebook.size() <= (l.name == "fire/e3" ? 0 : 23));
}

TEST_CASE("next_fit_budget: a secant step towards the aim, clamped, and a plain step on noise") {
  using T = pipeline::FitTry;
  // One try: the bytes missed, one for one.
  CHECK(pipeline::next_fit_budget({T{1000, 1100}}, 1000) == 900);
  // Two budget bytes per file byte, as the last two tries measured.
  CHECK(pipeline::next_fit_budget({T{1000, 1100}, T{900, 1050}}, 1000) == 800);
  // The secant clamped to 2 and to 0.5.
  CHECK(pipeline::next_fit_budget({T{1000, 1100}, T{900, 1090}}, 1000) == 720);
  CHECK(pipeline::next_fit_budget({T{1000, 1100}, T{900, 900}}, 1000) == 950);
  // The size rose as the budget fell, or did not move: noise, so the bytes missed one for one
  // (a clamp to 0.5 there stepped half way and left a fit short of tries).
  CHECK(pipeline::next_fit_budget({T{1000, 1100}, T{900, 1120}}, 1000) == 780);
  CHECK(pipeline::next_fit_budget({T{1000, 1100}, T{900, 1100}}, 1000) == 800);
}
