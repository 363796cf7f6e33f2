#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <limits>

#include "sqz/quantize/quantize.h"
#include "test_util.h"

using namespace sqz;
using namespace sqz::quantize;

namespace {

// Minimum SSE over every assignment of n points to at most k labels (k^n of them).
double brute_force_any(const std::vector<double>& x, int k) {
  const size_t n = x.size();
  std::vector<int> label(n, 0);
  double best = std::numeric_limits<double>::infinity();
  std::function<void(size_t)> go = [&](size_t i) {
    if (i == n) {
      double sse = 0;
      for (int c = 0; c < k; ++c) {
        double s = 0, cnt = 0;
        for (size_t j = 0; j < n; ++j)
          if (label[j] == c) s += x[j], ++cnt;
        if (!cnt) continue;
        for (size_t j = 0; j < n; ++j)
          if (label[j] == c) sse += (x[j] - s / cnt) * (x[j] - s / cnt);
      }
      best = std::min(best, sse);
      return;
    }
    for (int c = 0; c < k; ++c) label[i] = c, go(i + 1);
  };
  go(0);
  return best;
}

// Minimum SSE over every split of sorted x into k contiguous non-empty groups.
double brute_force_contiguous(const std::vector<double>& x, size_t start, int k) {
  auto cost = [&](size_t a, size_t b) {
    double s = 0;
    for (size_t j = a; j < b; ++j) s += x[j];
    double sse = 0;
    for (size_t j = a; j < b; ++j) sse += (x[j] - s / (b - a)) * (x[j] - s / (b - a));
    return sse;
  };
  if (k == 1) return cost(start, x.size());
  double best = std::numeric_limits<double>::infinity();
  for (size_t end = start + 1; end + (k - 1) <= x.size(); ++end)
    best = std::min(best, cost(start, end) + brute_force_contiguous(x, end, k - 1));
  return best;
}

WeightedPoints points_of(const std::vector<double>& x) {
  WeightedPoints p;
  p.x = x;
  p.w.assign(x.size(), 1.0);
  return p;
}

Layer random_layer(uint32_t seed, double density) {
  Model m = test::tiny_squeezenet(seed, 19, 10, density);
  return *m.find_layer("conv1");
}

}  // namespace

TEST_CASE("check_option_dependencies: the options each path ignores are refused") {
  QuantizeOptions lloyd, exact, uniform, random_start;
  exact.exact = true;
  uniform.method = Method::kUniform;
  random_start.init = Init::kKmeansPlusPlus;
  auto refused = [](const QuantizeOptions& o, const char* name) {
    const Status s = check_option_dependencies(o, {"bits", name});
    return s.code() == ErrorCode::kInvalidArgument &&
           s.message().find(std::string("`") + name + "`") == 0;
  };
  CHECK(refused(lloyd, "entropy"));
  CHECK(check_option_dependencies(uniform, {"entropy", "method"}).is_ok());
  CHECK(refused(exact, "init"));
  CHECK(refused(uniform, "init"));
  CHECK(check_option_dependencies(lloyd, {"init"}).is_ok());
  CHECK(refused(uniform, "exact"));
  CHECK(check_option_dependencies(exact, {"exact"}).is_ok());
  CHECK(refused(lloyd, "seed"));  // the linear start draws nothing
  CHECK(refused(exact, "seed"));
  CHECK(check_option_dependencies(random_start, {"init", "seed"}).is_ok());
  random_start.exact = true;
  CHECK(refused(random_start, "seed"));
  CHECK(check_option_dependencies(lloyd, {"bits", "layer_bits", "method"}).is_ok());
}

TEST_CASE("exact 1-D k-means equals brute force") {
  std::mt19937 rng(11);
  std::normal_distribution<double> d(0, 1);
  for (int trial = 0; trial < 60; ++trial) {
    const size_t n = 2 + trial % 11;  // 2..12
    std::vector<double> x(n);
    for (double& v : x) v = d(rng);
    std::sort(x.begin(), x.end());
    for (int k = 1; k <= 4 && k <= static_cast<int>(n); ++k) {
      INFO("n=" << n << " k=" << k);
      const double got = exact_kmeans(points_of(x), k).sse;
      CHECK(got == doctest::Approx(brute_force_contiguous(x, 0, k)).epsilon(1e-9));
      if (n <= 8) CHECK(got == doctest::Approx(brute_force_any(x, k)).epsilon(1e-9));
    }
  }
}

TEST_CASE("Lloyd never increases the SSE, centroids come out sorted, seeds repeat") {
  std::mt19937 rng(5);
  std::normal_distribution<float> d(0, 1);
  std::vector<float> v(2000);
  for (float& x : v) x = d(rng) * d(rng);
  const WeightedPoints p = make_points(v, nullptr);
  for (Init init : {Init::kLinear, Init::kDensity, Init::kRandom, Init::kKmeansPlusPlus}) {
    for (int k : {2, 7, 32}) {
      std::vector<double> trace;
      Clustering c = lloyd(p, init_centroids(p, k, init, 42), 200, &trace);
      INFO("init=" << static_cast<int>(init) << " k=" << k);
      for (size_t i = 1; i < trace.size(); ++i) CHECK(trace[i] <= trace[i - 1] * (1 + 1e-12));
      CHECK(std::is_sorted(c.centroids.begin(), c.centroids.end()));
      CHECK(c.sse >= exact_kmeans(p, k).sse * (1 - 1e-9));
      Clustering again = lloyd(p, init_centroids(p, k, init, 42), 200);
      CHECK(again.centroids == c.centroids);
    }
  }
}

TEST_CASE("k at least the number of distinct values gives zero error") {
  std::vector<float> v = {0.5f, -0.25f, 0.5f, 1.0f, -0.25f, 2.0f};
  const WeightedPoints p = make_points(v, nullptr);
  CHECK(p.x.size() == 4);
  CHECK(exact_kmeans(p, 4).sse == 0);
  CHECK(lloyd(p, init_centroids(p, 8, Init::kLinear, 1), 10).sse == 0);
  Layer l = random_layer(3, 0.5);
  for (float& w : l.weight.data) w = std::round(w * 8) / 8;  // <= 9 distinct non-zero values
  const std::vector<float> before = l.weight.data;
  QuantizeOptions o;
  auto m = quantize_layer(l, 4, o);
  REQUIRE(m.is_ok());
  CHECK(l.weight.data == before);
  CHECK(m->max_abs_error == 0);
  CHECK(std::isinf(m->sqnr_db));
}

TEST_CASE("zeros stay zero and non-zeros stay non-zero, for every method") {
  for (auto [method, exact, init] : {std::tuple{Method::kKmeans, false, Init::kLinear},
                                     std::tuple{Method::kKmeans, true, Init::kLinear},
                                     std::tuple{Method::kKmeans, false, Init::kDensity},
                                     std::tuple{Method::kKmeans, false, Init::kRandom},
                                     std::tuple{Method::kKmeans, false, Init::kKmeansPlusPlus},
                                     std::tuple{Method::kUniform, false, Init::kLinear}}) {
    for (int bits : {1, 3, 6}) {
      Layer l = random_layer(9, 0.3);
      const std::vector<float> before = l.weight.data;
      QuantizeOptions o;
      o.method = method;
      o.exact = exact;
      o.init = init;
      auto m = quantize_layer(l, bits, o);
      REQUIRE(m.is_ok());
      INFO("method=" << static_cast<int>(method) << " exact=" << exact << " bits=" << bits);
      for (size_t i = 0; i < before.size(); ++i) {
        CHECK((before[i] == 0.0f) == (l.weight.data[i] == 0.0f));
        CHECK(l.mask[i] == (before[i] != 0.0f));
      }
      CHECK(l.quant.codebook.size() <= (size_t{1} << bits));
      CHECK(std::is_sorted(l.quant.codebook.begin(), l.quant.codebook.end()));
      CHECK(m->entropy_bits <= bits + 1e-9);
      Model holder = test::tiny_squeezenet(9, 19, 10, 0.3);
      *holder.find_layer("conv1") = l;
      CHECK(validate_and_infer(holder).is_ok());  // codes agree with the weights
    }
  }
}

TEST_CASE("the uniform quantizer meets its entropy target") {
  Layer l = random_layer(4, 1.0);
  QuantizeOptions o;
  o.method = Method::kUniform;
  o.entropy_target = 3.0;
  auto m = quantize_layer(l, 8, o);
  REQUIRE(m.is_ok());
  CHECK(m->entropy_bits <= 3.0 + 1e-9);
  CHECK(m->entropy_bits > 2.0);  // the finest grid that fits, not a needlessly coarse one
}

TEST_CASE("centroid gradients are the sums of their weights' gradients (Eq. 3)") {
  Layer l = random_layer(2, 0.5);
  QuantizeOptions o;
  REQUIRE(quantize_layer(l, 2, o).is_ok());
  std::vector<float> grad(l.weight.data.size());
  std::vector<double> want(l.quant.codebook.size(), 0);
  size_t k = 0;
  for (size_t i = 0; i < grad.size(); ++i) {
    grad[i] = static_cast<float>(i % 7) - 3.0f;
    if (l.mask[i]) want[l.quant.codes[k++]] += grad[i];
  }
  std::vector<float> got = centroid_gradients(l, grad);
  REQUIRE(got.size() == want.size());
  for (size_t j = 0; j < got.size(); ++j) CHECK(got[j] == doctest::Approx(want[j]));
}

TEST_CASE("bad configuration is refused and names the layer") {
  Model m = test::tiny_squeezenet(1);
  QuantizeOptions o;
  o.bits = 0;
  CHECK(check_options(m, o).message().find("outside 1..8") != std::string::npos);
  o.bits = 9;
  CHECK_FALSE(check_options(m, o).is_ok());
  o.bits = 4;
  o.layer_bits["conv9"] = 4;
  CHECK(check_options(m, o).message().find("'conv9'") != std::string::npos);
  o.layer_bits = {{"relu1", 4}};
  CHECK(check_options(m, o).message().find("'relu1'") != std::string::npos);
  o.layer_bits = {{"conv1", 12}};
  CHECK(check_options(m, o).message().find("'conv1'") != std::string::npos);
  o.layer_bits = {};
  std::fill(m.find_layer("fire/e1")->weight.data.begin(),
            m.find_layer("fire/e1")->weight.data.end(), 0.0f);
  Status s = check_options(m, o);
  CHECK(s.message().find("'fire/e1'") != std::string::npos);
  CHECK(s.message().find("no non-zero") != std::string::npos);
  o.layer_bits = {{"fire/e1", 0}};  // left float32: fine
  CHECK(check_options(m, o).is_ok());
}

TEST_CASE("codebook sizes between powers of two: more than 2^(b-1), at most k, in b-bit codes") {
  CHECK(half_step_centroids(5) == 23);
  CHECK(half_step_centroids(7) == 91);
  CHECK(half_step_centroids(8) == 181);
  CHECK(code_bits_for(1) == 1);
  CHECK(code_bits_for(2) == 1);
  CHECK(code_bits_for(3) == 2);
  CHECK(code_bits_for(91) == 7);
  CHECK(code_bits_for(128) == 7);
  CHECK(code_bits_for(129) == 8);
  CHECK(code_bits_for(256) == 8);
  QuantizeOptions o;
  o.exact = true;  // exact k-means: the error is monotone in k
  set_layer_width(o, "conv1", 32);
  CHECK(o.layer_bits.at("conv1") == 5);
  CHECK(o.layer_centroids.count("conv1") == 0);
  CHECK(centroids_for(o, "conv1", 5) == 32);
  std::vector<double> rmse;
  for (int k : {16, 23, 32}) {
    Layer l = random_layer(5, 1.0);
    set_layer_width(o, "conv1", k);
    CHECK(o.layer_bits.at("conv1") == (k == 16 ? 4 : 5));
    CHECK(centroids_for(o, "conv1", o.layer_bits.at("conv1")) == k);
    auto m = quantize_layer(l, o.layer_bits.at("conv1"), o);
    REQUIRE(m.is_ok());
    CHECK(l.quant.bits == (k == 16 ? 4 : 5));
    CHECK(l.quant.codebook.size() == static_cast<size_t>(k));  // 270 distinct weights
    rmse.push_back(m->rmse);
  }
  CHECK(rmse[0] > rmse[1]);
  CHECK(rmse[1] > rmse[2]);
  // The uniform quantizer holds to the size too.
  Layer u = random_layer(5, 1.0);
  o.method = Method::kUniform;
  set_layer_width(o, "conv1", 23);
  REQUIRE(quantize_layer(u, 5, o).is_ok());
  CHECK(u.quant.codebook.size() <= 23);
}

TEST_CASE("codebook sizes that do not fit their codes, or name no convolution, are refused") {
  Model m = test::tiny_squeezenet(1);
  QuantizeOptions o;
  o.bits = 5;
  o.layer_centroids = {{"conv1", 40}};
  Status s = check_options(m, o);
  CHECK(s.message().find("'conv1'") != std::string::npos);
  CHECK(s.message().find("2..32") != std::string::npos);
  o.layer_centroids = {{"conv1", 1}};
  CHECK_FALSE(check_options(m, o).is_ok());
  o.layer_centroids = {{"relu1", 3}};
  CHECK(check_options(m, o).message().find("'relu1'") != std::string::npos);
  o.layer_centroids = {{"conv9", 3}};
  CHECK(check_options(m, o).message().find("'conv9'") != std::string::npos);
  o.layer_centroids = {{"conv1", 23}};
  CHECK(check_options(m, o).is_ok());
}
