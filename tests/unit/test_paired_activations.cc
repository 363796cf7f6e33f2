// PairedActivations: the activations kept between the passes of sequential sharing give the
// statistics collect_paired_moments gives from the images, bit for bit, at any budget.
#include <doctest/doctest.h>

#include <random>

#include "sqz/pipeline/input_moments.h"
#include "sqz/pipeline/paired_activations.h"
#include "sqz/pipeline/weight_sharing.h"
#include "test_util.h"

using namespace sqz;

namespace {

void check_same(const pipeline::PairedMoments& got, const pipeline::PairedMoments& want) {
  REQUIRE(got.own.size() == want.own.size());
  for (const auto& [name, m] : want.own) {
    CAPTURE(name);
    REQUIRE(got.own.count(name));
    CHECK(got.own.at(name).h == m.h);
    CHECK(got.own.at(name).samples == m.samples);
    const quantize::CrossMoment &a = got.cross.at(name), &b = want.cross.at(name);
    CHECK(a.cross == b.cross);
    CHECK(a.sum == b.sum);
    CHECK(a.reference_sum == b.reference_sum);
  }
}

// The convolutions in graph order, each changed (as sharing would) after its statistics.
void run_passes(const Model& reference, const std::vector<float>& x, int64_t n, bool mirror,
                int64_t budget, int64_t* furthest_cut) {
  pipeline::MomentOptions mo;
  mo.mirror = mirror;
  pipeline::PairedActivations kept(reference, x.data(), n, mo, budget);
  Model own = reference;
  std::mt19937 rng(5);
  *furthest_cut = 0;
  for (Layer& l : own.layers) {
    if (l.op != OpKind::kConvolution) continue;
    const std::set<std::string> names{l.name};
    auto got = kept.collect(own, names, nullptr);
    auto want = pipeline::collect_paired_moments(own, reference, names, x.data(), n, mo, nullptr);
    REQUIRE(got.is_ok());
    REQUIRE(want.is_ok());
    check_same(*got, *want);
    *furthest_cut = std::max(*furthest_cut, kept.cut());
    for (float& w : l.weight.data) w *= std::uniform_real_distribution<float>(0.7f, 1.3f)(rng);
  }
  CHECK(kept.bytes() <= budget);
}

}  // namespace

TEST_CASE("PairedActivations: collect_paired_moments' numbers pass after pass, any budget") {
  const Model plain = test::tiny_squeezenet(61, 19, 10, 0.7);
  const Model bypass = test::with_bypass(test::tiny_squeezenet(62, 19, 10, 0.7), 63);
  std::mt19937 rng(64);
  const int64_t n = 10;  // not a multiple of the batch: a short last batch
  const std::vector<float> x = test::random_floats(rng, static_cast<size_t>(n * 3 * 19 * 19));
  for (const Model* m : {&plain, &bypass})
    for (bool mirror : {false, true}) {
      CAPTURE(mirror);
      int64_t cut = -1;
      run_passes(*m, x, n, mirror, int64_t{1} << 30, &cut);
      CHECK(cut > 0);  // activations were kept: later passes did not start from the images
      run_passes(*m, x, n, mirror, 0, &cut);
      CHECK(cut == 0);  // nothing fits: every pass from the images
    }
}

TEST_CASE("PairedActivations: a model of another graph is measured from the images") {
  const Model reference = test::tiny_squeezenet(71, 19, 10, 0.7);
  const Model other = test::with_bypass(reference, 72);
  std::mt19937 rng(73);
  const std::vector<float> x = test::random_floats(rng, 4 * 3 * 19 * 19);
  pipeline::PairedActivations kept(reference, x.data(), 4, {}, int64_t{1} << 30);
  const std::set<std::string> names{"bypass"};
  auto got = kept.collect(other, names, nullptr);
  CHECK_FALSE(got.is_ok());  // the reference has no such layer: the same error as from images
  CHECK(got.status().message().find("bypass") != std::string::npos);
}

TEST_CASE("share_weights_sequential: the same codes with and without kept activations") {
  const Model reference = test::with_bypass(test::tiny_squeezenet(81, 19, 10, 0.7), 82);
  std::mt19937 rng(83);
  const int64_t n = 9;
  const std::vector<float> x = test::random_floats(rng, static_cast<size_t>(n * 3 * 19 * 19));
  pipeline::SharingOptions o;
  o.quantize.bits = 3;
  pipeline::SequentialSharing s;
  s.reference = &reference;
  s.images = x.data();
  s.n = n;
  s.moments.mirror = true;
  Model kept = reference, recomputed = reference;
  REQUIRE(pipeline::share_weights_sequential(kept, o, s, nullptr).is_ok());
  s.max_activation_bytes = 0;
  REQUIRE(pipeline::share_weights_sequential(recomputed, o, s, nullptr).is_ok());
  for (size_t i = 0; i < kept.layers.size(); ++i) {
    CAPTURE(kept.layers[i].name);
    CHECK(kept.layers[i].weight.data == recomputed.layers[i].weight.data);
    CHECK(kept.layers[i].bias.data == recomputed.layers[i].bias.data);
    CHECK(kept.layers[i].quant.codes == recomputed.layers[i].quant.codes);
  }
}

TEST_CASE("PairedActivations: advance and gather give both networks' activations at a cut") {
  const Model reference = test::tiny_squeezenet(91, 19, 10);
  std::mt19937 rng(92);
  const int64_t n = 6;
  const std::vector<float> x = test::random_floats(rng, n * 3 * 19 * 19);
  Model own = reference;
  for (float& w : own.layers[0].weight.data) w *= 0.5f;  // conv1 differs
  pipeline::MomentOptions mo;
  mo.mirror = true;
  pipeline::PairedActivations kept(reference, x.data(), n, mo, int64_t{1} << 24);
  CHECK(kept.items() == 2 * n);
  CHECK(kept.blob_at(0) == "data");
  CHECK(kept.blob_at(3) == "pool1");
  CHECK(kept.blob_at(5).empty() == false);  // the squeeze's ReLU: both expands read it
  CHECK(kept.blob_at(6).empty());           // the expand1x1's output beside the squeeze's
  // At the images: item 4 is image 0 mirrored (batches of four images, then their mirrors).
  std::vector<float> a, b;
  REQUIRE(kept.gather({0, 4}, &a, &b).is_ok());
  CHECK(a == b);
  const int64_t size = 3 * 19 * 19;
  CHECK(std::equal(a.begin(), a.begin() + size, x.begin()));
  CHECK(a[size + 18] == x[0]);  // its first row reversed
  CHECK(a[size] == x[18]);
  // After pool1: each network's own activations, by the runtime's sliced networks.
  REQUIRE(kept.advance(own, 3).is_ok());
  CHECK(kept.cut() == 3);
  CHECK(kept.chw_at(3) == Shape{8, 3, 3});
  REQUIRE(kept.gather({0, 11}, &a, &b).is_ok());
  CHECK(a.size() == 2u * 8 * 3 * 3);
  CHECK(a != b);
  CHECK(kept.advance(own, 6).code() == ErrorCode::kInvalidArgument);  // not a cut
  CHECK(kept.advance(own, 1).code() == ErrorCode::kInvalidArgument);  // behind the kept one
  CHECK(kept.gather({12}, &a, &b).code() == ErrorCode::kInvalidArgument);
  pipeline::PairedActivations tight(reference, x.data(), n, mo, 1000);
  CHECK(tight.advance(own, 3).code() == ErrorCode::kLimit);
}
