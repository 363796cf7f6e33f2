// Block reconstruction (block_reconstruction.h) on generated SqueezeNet-shaped models: the
// blocks by hand, and the tuned network nearer the reference on inputs it did not tune on.
#include <doctest/doctest.h>

#include <random>

#include "sqz/pipeline/block_reconstruction.h"
#include "sqz/pipeline/weight_sharing.h"
#include "sqz/runtime/net.h"
#include "test_util.h"

using namespace sqz;

namespace {

using Blocks = std::vector<std::pair<int64_t, int64_t>>;

Model shared_at(const Model& m, int bits) {
  pipeline::SharingOptions o;
  o.quantize.bits = bits;
  Model s = m;
  REQUIRE(pipeline::share_weights(s, o).is_ok());
  return s;
}

double output_error(const Model& m, const Model& reference, const std::vector<float>& x,
                    int64_t n) {
  runtime::NetOptions no;
  no.policy = runtime::KernelPolicy::kReference;
  std::vector<float> got, want;
  auto net = runtime::Net::create(m, no), ref = runtime::Net::create(reference, no);
  REQUIRE((net.is_ok() && ref.is_ok()));
  REQUIRE((*net)->forward(x.data(), n, &got).is_ok());
  REQUIRE((*ref)->forward(x.data(), n, &want).is_ok());
  double s = 0;
  for (size_t i = 0; i < got.size(); ++i) s += (double{got[i]} - want[i]) * (got[i] - want[i]);
  return s;
}

}  // namespace

TEST_CASE("reconstruction_blocks: a convolution with its pooling, a Fire module, the classifier") {
  const Model tiny = test::tiny_squeezenet(51, 19, 10);
  // conv1 relu1 pool1 | squeeze relu e1 relu e3 relu concat | drop conv_final relu pool_final
  CHECK(pipeline::reconstruction_blocks(shared_at(tiny, 4)) == Blocks{{0, 3}, {3, 10}, {10, 14}});
  // With a bypass the Fire module's concat is not a cut (pool1 is live beside it): the block
  // runs to the sum.
  CHECK(pipeline::reconstruction_blocks(shared_at(test::with_bypass(tiny, 52), 4)) ==
        Blocks{{0, 3}, {3, 12}, {12, 16}});
  CHECK(pipeline::reconstruction_blocks(tiny).empty());  // nothing quantized: nothing to tune
  Model partly = shared_at(tiny, 4);
  for (Layer& l : partly.layers)
    if (l.name.rfind("fire/", 0) == 0) l.quant = {};
  CHECK(pipeline::reconstruction_blocks(partly) == Blocks{{0, 3}, {10, 14}});
}

TEST_CASE("reconstruct_blocks: nearer the reference on other inputs, codes and masks kept") {
  for (uint32_t seed : {61u, 62u}) {
    const Model reference = test::with_bypass(test::tiny_squeezenet(seed, 19, 10, 0.6), seed);
    std::mt19937 rng(seed + 1);
    const int64_t n = 32;
    const std::vector<float> x = test::random_floats(rng, n * 3 * 19 * 19);
    const std::vector<float> unseen = test::random_floats(rng, n * 3 * 19 * 19);
    const Model shared = shared_at(reference, 3);
    pipeline::BlockOptions o;
    o.steps = 150;
    o.learning_rate = 1e-3;
    o.threads = 2;
    o.max_activation_bytes = 1 << 24;
    Model tuned = shared, again = shared, off = shared;
    auto results = pipeline::reconstruct_blocks(tuned, reference, x.data(), n, o, nullptr);
    REQUIRE(results.is_ok());
    REQUIRE(results->size() == 3);
    int kept = 0;
    for (const pipeline::BlockResult& b : *results) {
      INFO(b.first << " .. " << b.last << ": " << b.error_before << " -> " << b.error_after);
      CHECK(b.kept == (b.error_after < b.error_before));
      kept += b.kept;
    }
    CHECK(kept >= 2);
    const double before = output_error(shared, reference, unseen, n);
    const double after = output_error(tuned, reference, unseen, n);
    MESSAGE("seed ", seed, ": output error on other inputs ", before, " -> ", after);
    CHECK(after < 0.9 * before);
    for (size_t i = 0; i < tuned.layers.size(); ++i) {  // only centroids and biases moved
      const Layer &t = tuned.layers[i], &s = shared.layers[i];
      CHECK(t.quant.codes == s.quant.codes);
      CHECK(t.quant.codebook.size() == s.quant.codebook.size());
      CHECK(t.mask == s.mask);
      for (size_t k = 0; k < t.weight.data.size(); ++k)
        if (s.weight.data[k] == 0.0f) CHECK(t.weight.data[k] == 0.0f);
    }
    REQUIRE(pipeline::reconstruct_blocks(again, reference, x.data(), n, o, nullptr).is_ok());
    CHECK(output_error(again, tuned, unseen, n) == 0.0);  // deterministic
    o.steps = 0;  // the switch
    auto none = pipeline::reconstruct_blocks(off, reference, x.data(), n, o, nullptr);
    REQUIRE(none.is_ok());
    CHECK(none->empty());
    CHECK(output_error(off, shared, unseen, n) == 0.0);
  }
}

TEST_CASE("reconstruct_blocks: a block with an op training lacks is left as it is") {
  Model reference = test::tiny_squeezenet(81, 19, 10);
  reference.layers[2].op = OpKind::kAvgPool;  // pool1 averaged (not global): not trainable
  std::mt19937 rng(82);
  const std::vector<float> x = test::random_floats(rng, 16 * 3 * 19 * 19);
  const Model shared = shared_at(reference, 3);
  Model tuned = shared;
  pipeline::BlockOptions o;
  o.steps = 20;
  auto results = pipeline::reconstruct_blocks(tuned, reference, x.data(), 16, o, nullptr);
  REQUIRE(results.is_ok());
  REQUIRE(results->size() == 3);
  CHECK((*results)[0].skipped.find("global average pooling only") != std::string::npos);
  CHECK_FALSE((*results)[0].kept);
  CHECK(tuned.layers[0].quant.codebook == shared.layers[0].quant.codebook);
  CHECK((*results)[1].skipped.empty());
  CHECK((*results)[1].error_before > 0);
}

TEST_CASE("reconstruct_blocks: refuses bad options and a budget too small for a batch") {
  const Model reference = test::tiny_squeezenet(71, 19, 10);
  Model shared = shared_at(reference, 3);
  std::mt19937 rng(72);
  const std::vector<float> x = test::random_floats(rng, 8 * 3 * 19 * 19);
  pipeline::BlockOptions o;
  o.steps = 5;
  o.batch = 0;
  CHECK(pipeline::reconstruct_blocks(shared, reference, x.data(), 8, o, nullptr).status().code() ==
        ErrorCode::kInvalidArgument);
  o.batch = 4;
  CHECK(pipeline::reconstruct_blocks(shared, reference, nullptr, 8, o, nullptr).status().code() ==
        ErrorCode::kInvalidArgument);
  Model broken = reference;
  broken.layers[3].inputs = {"nowhere"};
  CHECK(pipeline::reconstruct_blocks(shared, broken, x.data(), 8, o, nullptr).status().code() !=
        ErrorCode::kOk);
  o.max_activation_bytes = 1000;
  CHECK(pipeline::reconstruct_blocks(shared, reference, x.data(), 8, o, nullptr).status().code() ==
        ErrorCode::kLimit);
}
