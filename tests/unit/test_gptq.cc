// Data-aware code assignment (quantize::assign_codes) against its naive twin, nearest-centroid
// rounding and a case solved by hand; the input moments it needs against a direct
// measurement of the layer's output error.
#include <doctest/doctest.h>

#include <cmath>
#include <random>

#include "sqz/pipeline/input_moments.h"
#include "sqz/quantize/gptq.h"
#include "sqz/quantize/quantize.h"
#include "sqz/runtime/net.h"
#include "test_util.h"

using namespace sqz;

namespace {

// A quantized conv layer out x (in, kh, kw) with random weights (a `pruned` fraction zero),
// and the moment of `samples` random correlated receptive fields.
struct Case {
  Layer layer;
  std::vector<float> original;
  quantize::InputMoment moment;
};

Case random_case(uint32_t seed, int64_t out, int64_t in, int64_t kernel, int64_t groups, int bits,
                 double pruned, int64_t samples) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1, 1);
  Case c;
  c.layer = make_conv("conv", "data", in, out, kernel, 1, kernel / 2);
  c.layer.conv.groups = groups;
  c.layer.weight.shape = {out, in / groups, kernel, kernel};
  c.layer.weight.data.assign(static_cast<size_t>(out * in / groups * kernel * kernel), 0.0f);
  for (float& w : c.layer.weight.data) w = u(rng) < 2 * pruned - 1 ? 0.0f : u(rng);
  c.original = c.layer.weight.data;
  quantize::QuantizeOptions q;
  REQUIRE(quantize::quantize_layer(c.layer, bits, q).is_ok());
  const int64_t k = in / groups * kernel * kernel;
  c.moment.k = k;
  c.moment.groups = groups;
  c.moment.h.assign(static_cast<size_t>(groups * k * k), 0.0);
  // Fields with a shared component, so that H has strong off-diagonal terms.
  std::vector<double> x(static_cast<size_t>(k));
  for (int64_t g = 0; g < groups; ++g)
    for (int64_t s = 0; s < samples; ++s) {
      const double common = u(rng);
      for (int64_t i = 0; i < k; ++i) x[i] = common * (1 + 0.1 * i) + 0.3 * u(rng);
      for (int64_t i = 0; i < k; ++i)
        for (int64_t j = 0; j < k; ++j) c.moment.h[(g * k + i) * k + j] += x[i] * x[j];
    }
  c.moment.samples = samples;
  return c;
}

}  // namespace

TEST_CASE("assign_codes: a two-weight case solved by hand") {
  // w = (0.4, 0.4), codebook {0.1, 1}, H = [[1, 0.9], [0.9, 1]] (strongly correlated inputs).
  // Rounding gives (0.1, 0.1): error e = (0.3, 0.3), e^T H e = 0.342. The optimum moves the
  // second weight up to absorb the first one's error: (0.1, 1) has e = (0.3, -0.6),
  // e^T H e = 0.09 + 0.36 - 2 * 0.9 * 0.18 = 0.126, the smallest of the four choices (brute
  // force: (1, 0.1) 0.126 too but later in order, (1, 1) 0.684).
  Layer l = make_conv("c", "data", 2, 1, 1, 1, 0);
  l.weight.data = {0.4f, 0.4f};
  l.quant.bits = 1;
  l.quant.codebook = {0.1f, 1.0f};
  l.quant.codes = {0, 0};
  l.mask = {1, 1};
  const std::vector<float> original = l.weight.data;
  l.weight.data = {0.1f, 0.1f};
  quantize::InputMoment m{2, 1, {1, 0.9, 0.9, 1}, 1};
  quantize::GptqOptions o;
  o.damping = 0;
  o.act_order = false;
  auto stats = quantize::assign_codes(l, original, m, o);
  REQUIRE(stats.is_ok());
  CHECK(stats->nearest_error == doctest::Approx(0.342));
  CHECK(stats->error == doctest::Approx(0.126));
  CHECK(l.quant.codes == std::vector<uint8_t>{0, 1});
  CHECK(l.weight.data == std::vector<float>{0.1f, 1.0f});
  CHECK(quantize::reconstruction_error(l, original, m) == doctest::Approx(0.126));
}

TEST_CASE("assign_codes: never worse than rounding, equal to its naive twin, deterministic") {
  int improved = 0, improvable = 0;
  std::mt19937 pick(2);
  for (uint32_t seed = 1; seed <= 24; ++seed) {
    const int64_t groups = 1 + pick() % 2, out = groups * (2 + pick() % 6);
    const int64_t in = groups * (1 + pick() % 4), kernel = pick() % 2 ? 3 : 1;
    const int bits = 1 + static_cast<int>(pick() % 4);
    const double pruned = (pick() % 4) * 0.2;
    Case c = random_case(seed, out, in, kernel, groups, bits, pruned, 40);
    INFO("seed " << seed);
    const double before = quantize::reconstruction_error(c.layer, c.original, c.moment);
    Layer fast = c.layer, twin = c.layer, again = c.layer;
    quantize::GptqOptions o;
    o.act_order = seed % 2 == 0;
    auto a = quantize::assign_codes(fast, c.original, c.moment, o);
    auto b = quantize::ref::assign_codes(twin, c.original, c.moment, o);
    auto d = quantize::assign_codes(again, c.original, c.moment, o);
    REQUIRE(a.is_ok());
    REQUIRE(b.is_ok());
    REQUIRE(d.is_ok());
    const double after = quantize::reconstruction_error(fast, c.original, c.moment);
    CHECK(a->nearest_error == doctest::Approx(before).epsilon(1e-9));
    CHECK(after <= before * (1 + 1e-12));
    CHECK(a->error == doctest::Approx(after).epsilon(1e-9));
    if (c.moment.k >= 9 && before > 0) {
      ++improvable;
      improved += after < 0.99 * before;
    }
    CHECK(fast.quant.codes == twin.quant.codes);
    CHECK(fast.quant.codes == again.quant.codes);
    CHECK(fast.weight.data == again.weight.data);
    // Pruned positions stay pruned; stored ones hold their centroid.
    size_t k = 0;
    for (size_t i = 0; i < fast.weight.data.size(); ++i) {
      CHECK(fast.mask[i] == (c.original[i] != 0.0f));
      if (!fast.mask[i]) {
        CHECK(fast.weight.data[i] == 0.0f);
        continue;
      }
      REQUIRE(fast.quant.codes[k] < fast.quant.codebook.size());
      CHECK(fast.weight.data[i] == fast.quant.codebook[fast.quant.codes[k++]]);
    }
  }
  // Correlated inputs leave plenty to compensate: with 9 or more inputs per channel, most
  // cases improve by more than 1%.
  CHECK(improvable >= 8);
  CHECK(improved * 4 >= improvable * 3);
}

namespace {
// Bits the codes of a layer carry under their own histogram (what entropy coding spends).
double code_entropy_bits(const Layer& l) {
  std::vector<double> count(l.quant.codebook.size(), 0.0);
  for (uint8_t c : l.quant.codes) count[c] += 1;
  double bits = 0;
  const double n = static_cast<double>(l.quant.codes.size());
  for (double c : count)
    if (c > 0) bits -= c * std::log2(c / n);
  return bits;
}
}  // namespace

TEST_CASE("assign_codes: a price on bits trades error for fewer bits, as its twin does") {
  double bits_plain = 0, bits_priced = 0, error_plain = 0, error_priced = 0;
  for (uint32_t seed = 1; seed <= 12; ++seed) {
    INFO("seed " << seed);
    Case c = random_case(seed, 8, 4, 3, 1, 4, 0.2, 60);
    // Bell-shaped weights, as trained ones are: the middle codes are the frequent, cheap ones.
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0, 0.3f);
    for (float& w : c.original) w = w == 0.0f ? 0.0f : normal(rng);
    c.layer.weight.data = c.original;
    REQUIRE(quantize::quantize_layer(c.layer, 4, {}).is_ok());
    Layer plain = c.layer, priced = c.layer, twin = c.layer;
    quantize::GptqOptions o;
    REQUIRE(quantize::assign_codes(plain, c.original, c.moment, o).is_ok());
    o.rate_weight = 4;
    REQUIRE(quantize::assign_codes(priced, c.original, c.moment, o).is_ok());
    REQUIRE(quantize::ref::assign_codes(twin, c.original, c.moment, o).is_ok());
    CHECK(priced.quant.codes == twin.quant.codes);
    bits_plain += code_entropy_bits(plain);
    bits_priced += code_entropy_bits(priced);
    error_plain += quantize::reconstruction_error(plain, c.original, c.moment);
    error_priced += quantize::reconstruction_error(priced, c.original, c.moment);
  }
  MESSAGE("bits ", bits_plain, " -> ", bits_priced, ", error ", error_plain, " -> ",
          error_priced);
  CHECK(bits_priced < 0.99 * bits_plain);  // measurably fewer bits (1.7% here)
  CHECK(error_priced > error_plain);        // bought with error, not for free
}

TEST_CASE("assign_codes: statistics that do not fit the layer are refused") {
  Case c = random_case(3, 4, 2, 3, 1, 3, 0.0, 10);
  quantize::InputMoment wrong = c.moment;
  wrong.k = 9;
  CHECK_FALSE(quantize::assign_codes(c.layer, c.original, wrong, {}).is_ok());
  wrong = c.moment;
  wrong.h[0] = std::nan("");
  CHECK_FALSE(quantize::assign_codes(c.layer, c.original, wrong, {}).is_ok());
  wrong = c.moment;
  wrong.h[0] = -1;
  CHECK_FALSE(quantize::assign_codes(c.layer, c.original, wrong, {}).is_ok());
  Layer unquantized = c.layer;
  unquantized.quant = {};
  CHECK_FALSE(quantize::assign_codes(unquantized, c.original, c.moment, {}).is_ok());
}

TEST_CASE("collect_input_moments: e^T H e is the layer's output error, measured") {
  // A model of one padded, strided convolution (no ReLU): the summed squared difference of
  // its outputs under two weight sets is sum_r e_r^T H e_r over every output position.
  Model m;
  m.input = "data";
  m.input_shape = {1, 3, 9, 8};
  Layer conv = make_conv("conv", "data", 3, 4, 3, 2, 1);
  conv.conv.has_bias = false;
  conv.bias = {};
  std::mt19937 rng(7);
  conv.weight.data = test::random_floats(rng, conv.weight.data.size());
  m.layers.push_back(conv);
  m.output = "conv";
  const int64_t n = 3;
  const std::vector<float> x = test::random_floats(rng, static_cast<size_t>(n * 3 * 9 * 8));
  pipeline::MomentOptions mo;
  auto moments = pipeline::collect_input_moments(m, x.data(), n, mo, nullptr);
  REQUIRE(moments.is_ok());
  const quantize::InputMoment& h = moments->at("conv");
  CHECK(h.k == 27);
  CHECK(h.samples == n * 5 * 4);
  Model other = m;
  other.layers[0].weight.data = test::random_floats(rng, conv.weight.data.size());
  std::vector<float> y0, y1;
  runtime::NetOptions no;
  no.policy = runtime::KernelPolicy::kReference;
  auto net0 = runtime::Net::create(m, no);
  auto net1 = runtime::Net::create(other, no);
  REQUIRE(net0.is_ok());
  REQUIRE(net1.is_ok());
  REQUIRE((*net0)->forward(x.data(), n, &y0).is_ok());
  REQUIRE((*net1)->forward(x.data(), n, &y1).is_ok());
  double measured = 0;
  for (size_t i = 0; i < y0.size(); ++i) measured += (double{y0[i]} - y1[i]) * (y0[i] - y1[i]);
  Layer moved = other.layers[0];
  CHECK(quantize::reconstruction_error(moved, m.layers[0].weight.data, h) ==
        doctest::Approx(measured).epsilon(1e-4));
}
