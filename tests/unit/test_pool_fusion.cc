// A max pooling run inside the convolution whose output only it reads (Net's fuse_pooling):
// the direct stem's, the GEMM's and SpMM's over im2col, where it is refused, and the
// activation budget it saves.
#include <doctest/doctest.h>

#include <random>
#include <string>
#include <vector>

#include "net_run.h"
#include "sqz/runtime/net.h"
#include "test_util.h"

using namespace sqz;
using net_test::forward;
using net_test::NetRun;
using net_test::run_net;

TEST_CASE("a stem's max pooling runs inside its direct convolution, with the same bits") {
  // conv1 (3 channels, 7x7/2: the direct convolution) -> ReLU -> pool1, whose geometry varies:
  // 3/2 (SqueezeNet), 2/2, 3/2 padded, 3/1.
  const int64_t geometries[][3] = {{3, 2, 0}, {2, 2, 0}, {3, 2, 1}, {3, 1, 0}};
  for (const auto& g : geometries) {
    Model m = test::tiny_squeezenet(6, 61, 10, 1.0);
    PoolParams& pp = m.layers[2].pool;
    pp.kernel_h = pp.kernel_w = g[0];
    pp.stride_h = pp.stride_w = g[1];
    pp.pad_h = pp.pad_w = g[2];
    std::mt19937 rng(8);
    const std::vector<float> in = test::random_floats(rng, 3 * 3 * 61 * 61, -50, 50);
    runtime::NetOptions ref;
    ref.policy = runtime::KernelPolicy::kReference;
    const std::vector<float> want = forward(m, in, 3, ref);
    for (int threads : {1, 2, 3})
      for (int64_t batch : {1, 3}) {
        INFO("pool " << g[0] << "/" << g[1] << " pad " << g[2] << " threads " << threads
                     << " batch " << batch);
        const std::vector<float> x(in.begin(), in.begin() + batch * 3 * 61 * 61);
        runtime::NetOptions o;
        o.threads = threads;
        const NetRun fused = run_net(m, x, batch, o);
        o.fuse_pooling = false;
        const NetRun apart = run_net(m, x, batch, o);
        CHECK(fused.kernel.at("conv1").find("direct_") == 0);
        CHECK(fused.kernel.at("conv1").find(" +pool1") != std::string::npos);
        CHECK(fused.kernel.at("pool1") == "in conv1");
        CHECK(apart.kernel.at("pool1") == "MaxPool");
        CHECK(fused.out == apart.out);
        CHECK(test::max_rel_diff(fused.out, std::vector<float>(want.begin(),
                                                                want.begin() + batch * 10)) < 1e-5);
      }
  }
}

namespace {

// The least max_activation_bytes that Net::create accepts the model under.
int64_t least_budget(const Model& m, runtime::NetOptions o) {
  int64_t refused = 0, accepted = int64_t{1} << 30;
  while (refused + 1 < accepted) {
    o.max_activation_bytes = refused + (accepted - refused) / 2;
    (runtime::Net::create(m, o).is_ok() ? accepted : refused) = o.max_activation_bytes;
  }
  return accepted;
}

}  // namespace

TEST_CASE("a net that fits its activation budget only with its pooling fused is accepted") {
  const Model m = test::tiny_squeezenet(6, 61, 10, 1.0);
  std::mt19937 rng(4);
  const std::vector<float> in = test::random_floats(rng, 3 * 61 * 61, -50, 50);
  const std::vector<float> want = forward(m, in, 1, {});
  runtime::NetOptions o;
  o.fuse_pooling = false;
  const int64_t apart = least_budget(m, o);
  o.fuse_pooling = true;
  const int64_t fused = least_budget(m, o);
  CHECK(fused < apart);  // conv1's output is never stored
  o.max_activation_bytes = fused;
  const NetRun got = run_net(m, in, 1, o);
  CHECK(got.kernel.at("pool1") == "in conv1");
  CHECK(test::max_rel_diff(got.out, want) < 1e-5);
  o.max_activation_bytes = fused - 1;
  auto refused = runtime::Net::create(m, o);
  REQUIRE(!refused.is_ok());
  CHECK(refused.status().code() == ErrorCode::kLimit);
  // Tuned: every kernel a stem may take (direct, GEMM or SpMM) runs its pooling inside, so
  // the tuned net fits the same budget.
  test::TempDir dir;
  o.tune = true;
  o.tune_cache = dir.file("cache.txt");
  o.max_activation_bytes = fused;
  const NetRun tuned = run_net(m, in, 1, o);
  CHECK(tuned.kernel.at("pool1") == "in conv1");
  CHECK(test::max_rel_diff(tuned.out, want) < 1e-5);
}

TEST_CASE("tuning times a stem's kernels with its pooling inside, as they will run") {
  const Model m = test::tiny_squeezenet(6, 61, 10, 1.0);
  std::mt19937 rng(14);
  const std::vector<float> in = test::random_floats(rng, 2 * 3 * 61 * 61, -50, 50);
  const std::vector<float> want = forward(m, in, 2, {});
  for (int threads : {1, 2}) {
    test::TempDir dir;  // one cache: the stem fused and alone are two entries
    for (bool fuse : {true, false}) {
      INFO("threads=" << threads << " fuse_pooling=" << fuse);
      runtime::NetOptions o;
      o.threads = threads;
      o.fuse_pooling = fuse;
      o.tune = true;
      o.tune_cache = dir.file("cache.txt");
      const NetRun tuned = run_net(m, in, 2, o);
      std::string plan;
      for (const runtime::LayerProfile& l : tuned.profile)
        if (l.name == "conv1") plan = l.plan;
      CHECK(plan.rfind("tuned ", 0) == 0);
      CHECK((plan.find("with the pooling inside") != std::string::npos) == fuse);
      CHECK((tuned.kernel.at("pool1") == "in conv1") == fuse);
      CHECK(test::max_rel_diff(tuned.out, want) < 1e-5);
      // The next layers have no pooling after them (and, the second time, come from the cache).
      for (const runtime::LayerProfile& l : tuned.profile)
        if (l.name != "conv1") CHECK(l.plan.find("with the pooling inside") == std::string::npos);
    }
  }
}

TEST_CASE("a GEMM or SpMM stem's max pooling runs inside it too, with the same bits") {
  // SqueezeNet v1.1's stem: 3x3/2 from 3 channels, which the rule gives the GEMM (not the
  // direct convolution), or the SpMM when sparse enough or asked for.
  std::mt19937 rng(9);
  for (double density : {1.0, 0.4}) {
    Model m = test::tiny_squeezenet(6, 61, 10, 1.0);
    Layer stem = make_conv("conv1", "data", 3, 8, 3, 2, 0);
    stem.weight.data = test::random_floats(rng, stem.weight.data.size(), -0.5f, 0.5f);
    for (float& w : stem.weight.data)
      if (std::uniform_real_distribution<double>(0, 1)(rng) >= density) w = 0.0f;
    stem.bias.data = test::random_floats(rng, stem.bias.data.size(), -0.1f, 0.1f);
    m.layers[0] = stem;
    const std::vector<float> in = test::random_floats(rng, 3 * 3 * 61 * 61, -50, 50);
    runtime::NetOptions ref;
    ref.policy = runtime::KernelPolicy::kReference;
    const std::vector<float> want = forward(m, in, 3, ref);
    for (auto policy : {runtime::KernelPolicy::kAuto, runtime::KernelPolicy::kSparse})
      for (int threads : {1, 2, 3})
        for (int64_t batch : {1, 3}) {
          INFO("density " << density << " policy " << static_cast<int>(policy) << " threads "
                          << threads << " batch " << batch);
          const std::vector<float> x(in.begin(), in.begin() + batch * 3 * 61 * 61);
          runtime::NetOptions o;
          o.policy = policy;
          o.threads = threads;
          const NetRun fused = run_net(m, x, batch, o);
          o.fuse_pooling = false;
          const NetRun apart = run_net(m, x, batch, o);
          const bool sparse = policy == runtime::KernelPolicy::kSparse || density < 0.5;
          CHECK(fused.kernel.at("conv1").find(sparse ? "spmm_" : "gemm_") == 0);
          CHECK(fused.kernel.at("conv1").find(" +pool1") != std::string::npos);
          CHECK(fused.kernel.at("pool1") == "in conv1");
          CHECK(apart.kernel.at("pool1") == "MaxPool");
          CHECK(fused.out == apart.out);
          CHECK(test::max_rel_diff(fused.out, std::vector<float>(want.begin(),
                                                                  want.begin() + batch * 10)) <
                1e-5);
        }
  }
  // A 1x1 stem reads its input in place: bands would copy it, so its pooling stays apart.
  Model m = test::tiny_squeezenet(6, 61, 10, 1.0);
  Layer stem = make_conv("conv1", "data", 3, 8, 1, 1, 0);
  stem.weight.data = test::random_floats(rng, stem.weight.data.size(), -0.5f, 0.5f);
  stem.bias.data = test::random_floats(rng, stem.bias.data.size(), -0.1f, 0.1f);
  m.layers[0] = stem;
  const std::vector<float> in = test::random_floats(rng, 3 * 61 * 61, -50, 50);
  runtime::NetOptions ref;
  ref.policy = runtime::KernelPolicy::kReference;
  const NetRun got = run_net(m, in, 1, {});
  CHECK(got.kernel.at("pool1") == "MaxPool");
  CHECK(test::max_rel_diff(got.out, forward(m, in, 1, ref)) < 1e-5);
}

TEST_CASE("a pooling is not fused when another layer reads the convolution's output too") {
  Model m = test::tiny_squeezenet(7, 45, 10, 1.0);
  // A second reader of relu1: its channels' maxima, beside the classes.
  Layer side = make_layer(OpKind::kMaxPool, "side", "relu1");
  side.pool.global = true;
  Layer both = make_layer(OpKind::kConcat, "both", "pool_final");
  both.inputs.push_back("side");
  m.layers.push_back(side);
  m.layers.push_back(both);
  m.output = "both";
  std::mt19937 rng(2);
  const std::vector<float> in = test::random_floats(rng, 3 * 45 * 45, -50, 50);
  runtime::NetOptions ref;
  ref.policy = runtime::KernelPolicy::kReference;
  const NetRun got = run_net(m, in, 1, {});
  CHECK(got.kernel.at("pool1") == "MaxPool");
  CHECK(got.kernel.at("conv1").find("+pool1") == std::string::npos);
  CHECK(test::max_rel_diff(got.out, forward(m, in, 1, ref)) < 1e-5);
}
