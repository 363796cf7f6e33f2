// Weight-sharing targets against drifted inputs (quantize/drift.h): cases solved by hand.
#include <doctest/doctest.h>

#include <random>

#include "sqz/quantize/drift.h"
#include "test_util.h"

using namespace sqz;

namespace {

// A 1x1 convolution of k inputs and `out` outputs with random weights and bias.
Layer pointwise(std::mt19937& rng, int64_t k, int64_t out) {
  Layer l = make_conv("c", "data", k, out, 1, 1, 0);
  l.weight.data = test::random_floats(rng, static_cast<size_t>(out * k));
  l.bias.data = test::random_floats(rng, static_cast<size_t>(out));
  return l;
}

// Statistics of fields x = scale * x_ref + shift, x_ref random (n fields of k).
void drifted_moments(std::mt19937& rng, int64_t k, int64_t n, double scale, double shift,
                     quantize::InputMoment* own, quantize::CrossMoment* cross) {
  own->k = cross->k = k;
  own->groups = cross->groups = 1;
  own->h.assign(static_cast<size_t>(k * k), 0.0);
  cross->cross = own->h;
  cross->sum.assign(static_cast<size_t>(k), 0.0);
  cross->reference_sum = cross->sum;
  for (int64_t s = 0; s < n; ++s) {
    const std::vector<float> r = test::random_floats(rng, static_cast<size_t>(k));
    std::vector<double> x(static_cast<size_t>(k));
    for (int64_t i = 0; i < k; ++i) x[i] = scale * r[i] + shift;
    for (int64_t i = 0; i < k; ++i) {
      for (int64_t j = 0; j < k; ++j) {
        own->h[i * k + j] += x[i] * x[j];
        cross->cross[i * k + j] += x[i] * r[j];
      }
      cross->sum[i] += x[i];
      cross->reference_sum[i] += r[i];
    }
  }
  own->samples = cross->samples = n;
}

}  // namespace

TEST_CASE("drift_target: no drift keeps the weights; inputs doubled halve them") {
  std::mt19937 rng(3);
  const int64_t k = 6, out = 4;
  const Layer ref = pointwise(rng, k, out);
  quantize::InputMoment own;
  quantize::CrossMoment cross;
  // x = x_ref: w* = w whatever the damping (the correction is zero).
  drifted_moments(rng, k, 200, 1.0, 0.0, &own, &cross);
  Layer l = ref;
  auto same = quantize::drift_target(l, ref.weight.data, own, cross, 0.01);
  REQUIRE(same.is_ok());
  CHECK(test::max_rel_diff(*same, ref.weight.data) < 1e-5);
  // x = 2 x_ref: w* . x = w_ref . x_ref needs w* = w_ref / 2 (undamped), from any start w.
  drifted_moments(rng, k, 200, 2.0, 0.0, &own, &cross);
  l.weight.data = test::random_floats(rng, l.weight.data.size());
  auto halved = quantize::drift_target(l, ref.weight.data, own, cross, 0.0);
  REQUIRE(halved.is_ok());
  std::vector<float> want = ref.weight.data;
  for (float& w : want) w /= 2;
  CHECK(test::max_rel_diff(*halved, want) < 1e-4);
}

TEST_CASE("match_output_means: a shifted input moves the bias by w . shift") {
  std::mt19937 rng(5);
  const int64_t k = 5, out = 3;
  const Layer ref = pointwise(rng, k, out);
  quantize::InputMoment own;
  quantize::CrossMoment cross;
  drifted_moments(rng, k, 100, 1.0, 0.25, &own, &cross);  // x = x_ref + 0.25
  Layer l = ref;
  l.bias.data.assign(static_cast<size_t>(out), 7.0f);  // overwritten from the reference's
  REQUIRE(quantize::match_output_means(l, ref.weight.data, ref.bias.data, cross).is_ok());
  for (int64_t r = 0; r < out; ++r) {
    double row = 0;
    for (int64_t i = 0; i < k; ++i) row += ref.weight.data[r * k + i];
    CHECK(l.bias.data[r] == doctest::Approx(ref.bias.data[r] - 0.25 * row).epsilon(1e-5));
  }
  // A layer without a bias gets one (the reference's taken as 0).
  Layer bare = ref;
  bare.conv.has_bias = false;
  bare.bias = {};
  REQUIRE(quantize::match_output_means(bare, ref.weight.data, {}, cross).is_ok());
  CHECK(bare.conv.has_bias);
  CHECK(bare.bias.data.size() == static_cast<size_t>(out));
}

TEST_CASE("drift_target and match_output_means refuse statistics that do not fit") {
  std::mt19937 rng(9);
  const Layer ref = pointwise(rng, 4, 2);
  quantize::InputMoment own;
  quantize::CrossMoment cross;
  drifted_moments(rng, 4, 20, 1.0, 0.0, &own, &cross);
  Layer l = ref;
  CHECK_FALSE(quantize::drift_target(l, {1.0f}, own, cross, 0.01).is_ok());
  quantize::CrossMoment short_cross = cross;
  short_cross.cross.pop_back();
  CHECK_FALSE(quantize::drift_target(l, ref.weight.data, own, short_cross, 0.01).is_ok());
  quantize::CrossMoment bad = cross;
  bad.cross[3] = std::nan("");
  CHECK_FALSE(quantize::drift_target(l, ref.weight.data, own, bad, 0.01).is_ok());
  CHECK_FALSE(quantize::drift_target(l, ref.weight.data, own, cross, -1).is_ok());
  quantize::CrossMoment empty = cross;
  empty.samples = 0;
  CHECK_FALSE(quantize::match_output_means(l, ref.weight.data, ref.bias.data, empty).is_ok());
  CHECK_FALSE(quantize::match_output_means(l, ref.weight.data, {1.0f}, cross).is_ok());
}
