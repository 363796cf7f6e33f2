// Sequential weight sharing against the reference network (share_weights_sequential) and the
// paired statistics it reads (collect_paired_moments), on generated SqueezeNet-shaped models.
#include <doctest/doctest.h>

#include <algorithm>
#include <iterator>
#include <map>
#include <random>

#include "sqz/pipeline/input_moments.h"
#include "sqz/pipeline/weight_sharing.h"
#include "sqz/runtime/net.h"
#include "test_util.h"

using namespace sqz;

namespace {

std::vector<float> logits_of(const Model& m, const std::vector<float>& x, int64_t n) {
  runtime::NetOptions no;
  no.policy = runtime::KernelPolicy::kReference;
  auto net = runtime::Net::create(m, no);
  REQUIRE(net.is_ok());
  std::vector<float> y;
  REQUIRE((*net)->forward(x.data(), n, &y).is_ok());
  return y;
}

double squared_distance(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += (double{a[i]} - b[i]) * (a[i] - b[i]);
  return s;
}

struct Inputs {
  Model model;
  std::vector<float> x;
  int64_t n = 24;
};

Inputs make_inputs(uint32_t seed) {
  Inputs in;
  in.model = test::tiny_squeezenet(seed, 19, 10, 0.6);
  std::mt19937 rng(seed + 1);
  in.x = test::random_floats(rng, static_cast<size_t>(in.n * 3 * 19 * 19));
  return in;
}

}  // namespace

TEST_CASE("collect_paired_moments: a network paired with itself gives cross = own = H") {
  const Inputs in = make_inputs(11);
  pipeline::MomentOptions mo;
  auto h = pipeline::collect_input_moments(in.model, in.x.data(), in.n, mo, nullptr);
  REQUIRE(h.is_ok());
  std::set<std::string> names;
  for (const Layer& l : in.model.layers)
    if (l.op == OpKind::kConvolution) names.insert(l.name);
  auto paired = pipeline::collect_paired_moments(in.model, in.model, names, in.x.data(), in.n,
                                                 mo, nullptr);
  REQUIRE(paired.is_ok());
  for (const std::string& name : names) {
    const quantize::InputMoment& own = paired->own.at(name);
    const quantize::CrossMoment& c = paired->cross.at(name);
    CHECK(own.samples == h->at(name).samples);
    CHECK(c.samples == own.samples);
    double scale = 0, off = 0, cross_off = 0;
    for (size_t i = 0; i < own.h.size(); ++i) {
      scale = std::max(scale, std::fabs(h->at(name).h[i]));
      off = std::max(off, std::fabs(own.h[i] - h->at(name).h[i]));
      cross_off = std::max(cross_off, std::fabs(c.cross[i] - own.h[i]));
    }
    CHECK(off <= 1e-5 * scale);
    CHECK(cross_off == 0);
    CHECK(c.sum == c.reference_sum);
  }
  Model other = in.model;
  other.layers[0].weight.shape[0] += 1;  // no longer the same graph
  auto refused = pipeline::collect_paired_moments(in.model, other, names, in.x.data(), in.n, mo,
                                                  nullptr);
  REQUIRE_FALSE(refused.is_ok());
  CHECK(refused.status().message().find(other.layers[0].name) != std::string::npos);
}

TEST_CASE("MomentOptions::mirror: the statistics of the images and their mirrors, both collectors") {
  const Inputs in = make_inputs(12);
  // The twin: the inputs followed by copies reversed along each row, collected without mirror.
  const int64_t width = 19, plane = 3 * 19 * 19;
  std::vector<float> both = in.x;
  for (int64_t i = 0; i < in.n * plane; i += width)
    both.insert(both.end(), std::make_reverse_iterator(in.x.begin() + i + width),
                std::make_reverse_iterator(in.x.begin() + i));
  REQUIRE(both.size() == 2 * in.x.size());
  std::set<std::string> names;
  for (const Layer& l : in.model.layers)
    if (l.op == OpKind::kConvolution) names.insert(l.name);
  pipeline::MomentOptions plain, mirrored;
  mirrored.mirror = true;
  int64_t seen = 0;
  auto h = pipeline::collect_input_moments(in.model, in.x.data(), in.n, mirrored,
                                           [&](int64_t done) { return seen = done, Status::ok(); });
  auto twin = pipeline::collect_input_moments(in.model, both.data(), 2 * in.n, plain, nullptr);
  auto unmirrored = pipeline::collect_input_moments(in.model, in.x.data(), in.n, plain, nullptr);
  Model shifted = in.model;  // a reference that differs, so that cross != own
  for (float& b : shifted.layers[0].bias.data) b += 0.25f;
  auto paired = pipeline::collect_paired_moments(in.model, shifted, names, in.x.data(), in.n,
                                                 mirrored, nullptr);
  auto paired_twin = pipeline::collect_paired_moments(in.model, shifted, names, both.data(),
                                                      2 * in.n, plain, nullptr);
  REQUIRE(h.is_ok());
  REQUIRE(twin.is_ok());
  REQUIRE(unmirrored.is_ok());
  REQUIRE(paired.is_ok());
  REQUIRE(paired_twin.is_ok());
  CHECK(seen == in.n);  // progress counts the images given, not the mirrors
  for (const std::string& name : names) {
    INFO(name);
    const auto& a = h->at(name);
    const auto& b = twin->at(name);
    CHECK(a.samples == b.samples);
    CHECK(a.samples == 2 * unmirrored->at(name).samples);
    double scale = 0, off = 0, cross_off = 0, moved = 0;
    for (size_t i = 0; i < a.h.size(); ++i) {
      scale = std::max(scale, std::fabs(b.h[i]));
      off = std::max(off, std::fabs(a.h[i] - b.h[i]));
      moved = std::max(moved, std::fabs(a.h[i] - 2 * unmirrored->at(name).h[i]));
      cross_off = std::max(cross_off, std::fabs(paired->cross.at(name).cross[i] -
                                                paired_twin->cross.at(name).cross[i]));
    }
    CHECK(off <= 1e-5 * scale);
    CHECK(cross_off <= 1e-5 * scale);
    CHECK(moved > 1e-3 * scale);  // the mirrors are other data, not the same twice
    CHECK(paired->own.at(name).samples == paired_twin->own.at(name).samples);
  }
}

TEST_CASE("share_weights_sequential: nearer the reference's outputs than parallel sharing") {
  for (uint32_t seed : {21u, 22u, 23u}) {
    const Inputs in = make_inputs(seed);
    pipeline::SharingOptions o;
    o.quantize.bits = 3;
    pipeline::MomentOptions mo;
    auto moments = pipeline::collect_input_moments(in.model, in.x.data(), in.n, mo, nullptr);
    REQUIRE(moments.is_ok());
    o.moments = &*moments;
    Model parallel = in.model;
    REQUIRE(pipeline::share_weights(parallel, o).is_ok());
    pipeline::SequentialSharing s;
    s.reference = &in.model;
    s.images = in.x.data();
    s.n = in.n;
    Model sequential = in.model, no_bias = in.model, again = in.model;
    REQUIRE(pipeline::share_weights_sequential(sequential, o, s, nullptr).is_ok());
    REQUIRE(pipeline::share_weights_sequential(again, o, s, nullptr).is_ok());
    s.match_means = false;
    REQUIRE(pipeline::share_weights_sequential(no_bias, o, s, nullptr).is_ok());
    const std::vector<float> want = logits_of(in.model, in.x, in.n);
    const double e_parallel = squared_distance(logits_of(parallel, in.x, in.n), want);
    const double e_sequential = squared_distance(logits_of(sequential, in.x, in.n), want);
    const double e_no_bias = squared_distance(logits_of(no_bias, in.x, in.n), want);
    MESSAGE("seed ", seed, ": parallel ", e_parallel, ", sequential ", e_sequential,
            ", without the bias step ", e_no_bias);
    CHECK(e_sequential < e_parallel);
    CHECK(e_no_bias != e_sequential);
    CHECK(logits_of(again, in.x, in.n) == logits_of(sequential, in.x, in.n));  // deterministic
    for (size_t i = 0; i < sequential.layers.size(); ++i) {
      const Layer& l = sequential.layers[i];
      if (l.op != OpKind::kConvolution) continue;
      CHECK(l.quant.bits == 3);
      CHECK(l.quant.codebook.size() <= 8u);
      for (size_t j = 0; j < l.weight.data.size(); ++j)  // pruned positions stay pruned
        if (in.model.layers[i].weight.data[j] == 0.0f) CHECK(l.weight.data[j] == 0.0f);
    }
  }
}

TEST_CASE("share_weights_sequential: needs a reference and images") {
  const Inputs in = make_inputs(31);
  Model m = in.model;
  pipeline::SequentialSharing s;
  CHECK_FALSE(pipeline::share_weights_sequential(m, {}, s, nullptr).is_ok());
  s.reference = &in.model;
  s.images = in.x.data();
  s.n = 0;
  CHECK_FALSE(pipeline::share_weights_sequential(m, {}, s, nullptr).is_ok());
}

TEST_CASE("share_weights_sequential: the cache of passes gives what a fresh share gives") {
  const Inputs in = make_inputs(41);
  std::vector<std::string> convs;
  for (const Layer& l : in.model.layers)
    if (l.op == OpKind::kConvolution) convs.push_back(l.name);
  pipeline::SequentialCache cache;
  pipeline::SequentialSharing s;
  s.reference = &in.model;
  s.images = in.x.data();
  s.n = in.n;
  // Widths 4 everywhere, then the last layer at 3, then the first at 3: each against a share
  // without the cache.
  std::vector<std::map<std::string, int>> tries(3);
  for (const std::string& c : convs) tries[0][c] = 4;
  tries[1] = tries[0], tries[1][convs.back()] = 3;
  tries[2] = tries[1], tries[2][convs.front()] = 3;
  for (const auto& widths : tries) {
    pipeline::SharingOptions o;
    o.quantize.layer_bits = widths;
    Model cached = in.model, fresh = in.model;
    s.cache = &cache;
    REQUIRE(pipeline::share_weights_sequential(cached, o, s, nullptr).is_ok());
    s.cache = nullptr;
    REQUIRE(pipeline::share_weights_sequential(fresh, o, s, nullptr).is_ok());
    for (size_t i = 0; i < fresh.layers.size(); ++i) {
      CHECK(cached.layers[i].weight.data == fresh.layers[i].weight.data);
      CHECK(cached.layers[i].bias.data == fresh.layers[i].bias.data);
      CHECK(cached.layers[i].quant.codes == fresh.layers[i].quant.codes);
    }
  }
  CHECK(cache.passes.size() >= 3);
}

TEST_CASE("layers wider than max_fan_in get no statistics and keep nearest codes") {
  const Inputs in = make_inputs(51);
  std::vector<int64_t> fan_in;
  std::set<std::string> names;
  for (const Layer& l : in.model.layers)
    if (l.op == OpKind::kConvolution) {
      fan_in.push_back(l.weight.shape[1] * l.weight.shape[2] * l.weight.shape[3]);
      names.insert(l.name);
    }
  std::sort(fan_in.begin(), fan_in.end());
  pipeline::MomentOptions mo;
  mo.max_fan_in = fan_in[fan_in.size() / 2];  // about half the layers are wider
  REQUIRE(fan_in.back() > mo.max_fan_in);
  auto moments = pipeline::collect_input_moments(in.model, in.x.data(), in.n, mo, nullptr);
  auto paired = pipeline::collect_paired_moments(in.model, in.model, names, in.x.data(), in.n,
                                                 mo, nullptr);
  REQUIRE(moments.is_ok());
  REQUIRE(paired.is_ok());
  pipeline::SharingOptions o;
  o.quantize.bits = 3;
  pipeline::SequentialSharing s;
  s.reference = &in.model;
  s.images = in.x.data();
  s.n = in.n;
  s.moments = mo;
  Model shared = in.model;
  REQUIRE(pipeline::share_weights_sequential(shared, o, s, nullptr).is_ok());
  int wide = 0;
  for (size_t i = 0; i < in.model.layers.size(); ++i) {
    const Layer& l = in.model.layers[i];
    if (l.op != OpKind::kConvolution) continue;
    const bool narrow = pipeline::gets_moments(l, mo);
    CHECK(moments->count(l.name) == (narrow ? 1u : 0u));
    CHECK(paired->own.count(l.name) == (narrow ? 1u : 0u));
    CHECK(paired->cross.count(l.name) == (narrow ? 1u : 0u));
    if (narrow) continue;
    ++wide;
    Layer nearest = l;  // what plain k-means sharing gives, bias untouched
    REQUIRE(quantize::quantize_layer(nearest, 3, o.quantize).is_ok());
    CHECK(shared.layers[i].quant.codes == nearest.quant.codes);
    CHECK(shared.layers[i].weight.data == nearest.weight.data);
    CHECK(shared.layers[i].bias.data == l.bias.data);
  }
  CHECK(wide > 0);
}
