// Layers on planes of few 64-column panels (SqueezeNet's 13x13 and 15x15), whose output rows
// the threads share before its columns: every kernel path gives the reference's outputs and
// the same bits at any thread count.
#include <doctest/doctest.h>

#include <random>

#include "net_run.h"
#include "sqz/runtime/net.h"
#include "test_util.h"

using namespace sqz;
using net_test::run_net;

namespace {

// A 3x3 convolution (its SpMM builds B itself, the GEMM reads an im2col) and a 1x1 after it
// (the GEMM reads its input in place, the SpMM a copy with aligned rows), `density` of each
// layer's weights kept.
Model two_convs(int64_t side, double density, std::mt19937& rng) {
  Model m;
  m.name = "two_convs";
  m.input = "data";
  m.input_shape = {1, 16, side, side};
  m.layers.push_back(make_conv("expand", "data", 16, 64, 3, 1, 1));
  m.layers.push_back(make_conv("classifier", "expand", 64, 96, 1, 1, 0));
  for (Layer& conv : m.layers) {
    conv.weight.data = test::random_floats(rng, conv.weight.data.size(), -0.5f, 0.5f);
    for (float& w : conv.weight.data)
      if (std::uniform_real_distribution<double>(0, 1)(rng) >= density) w = 0;
    conv.bias.data = test::random_floats(rng, conv.bias.data.size(), -0.1f, 0.1f);
  }
  m.output = "classifier";
  return m;
}

}  // namespace

TEST_CASE("a plane of few column panels is shared by output rows, with the same bits") {
  for (int64_t side : {13, 15}) {
    for (double density : {1.0, 0.3}) {
      std::mt19937 rng(static_cast<uint32_t>(side * 10 + density * 10));
      const Model m = two_convs(side, density, rng);
      for (int64_t batch : {1, 2}) {
        const std::vector<float> in = test::random_floats(rng, batch * 16 * side * side, -5, 5);
        runtime::NetOptions ref;
        ref.policy = runtime::KernelPolicy::kReference;
        const std::vector<float> want = run_net(m, in, batch, ref).out;
        for (runtime::KernelPolicy policy :
             {runtime::KernelPolicy::kSparse, runtime::KernelPolicy::kDense}) {
          std::vector<float> one_thread;
          for (int threads : {1, 2, 3, 4}) {
            INFO(side << "x" << side << ", density " << density << ", batch " << batch << ", "
                      << (policy == runtime::KernelPolicy::kSparse ? "sparse" : "dense") << ", "
                      << threads << " thread(s)");
            runtime::NetOptions o;
            o.policy = policy;
            o.threads = threads;
            const std::vector<float> got = run_net(m, in, batch, o).out;
            CHECK(test::max_rel_diff(got, want) < 1e-5);
            if (threads == 1) one_thread = got;
            CHECK(got == one_thread);
          }
        }
      }
    }
  }
}
