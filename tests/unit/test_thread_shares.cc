// How the threads share the work beyond one layer's split: planes of few 64-column panels
// (SqueezeNet's 13x13 and 15x15), whose output rows the threads share before their columns,
// and image streams (NetOptions::image_streams), a batch's images split among the threads.
// Every path gives the reference's outputs and the bits of one thread.
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

TEST_CASE("image streams give every image the bits of one pass after another") {
  for (double density : {1.0, 0.33}) {
    const Model m = test::tiny_squeezenet(3, 37, 10, density);
    std::mt19937 rng(11);
    const int64_t most = 7;
    const std::vector<float> in = test::random_floats(rng, most * 3 * 37 * 37, -50, 50);
    for (int threads : {2, 3}) {
      for (int64_t batch : {int64_t{2}, most}) {
        INFO("density " << density << ", " << threads << " threads, batch " << batch);
        const std::vector<float> x(in.begin(), in.begin() + batch * 3 * 37 * 37);
        runtime::NetOptions passes;
        passes.threads = threads;
        passes.image_streams = false;
        passes.images_per_pass = 2;  // several passes, the last one short
        const std::vector<float> want = net_test::forward(m, x, batch, passes);
        runtime::NetOptions streams = passes;
        streams.image_streams = true;
        auto net = runtime::Net::create(m, streams);
        REQUIRE(net.is_ok());
        std::vector<float> got;
        (*net)->set_profiling(true);
        REQUIRE((*net)->forward(x.data(), batch, &got).is_ok());
        CHECK(got == want);
        // A smaller batch next reuses the streams; a batch of one runs without them.
        for (int64_t again : {batch - 1, int64_t{1}}) {
          const std::vector<float> part(x.begin(), x.begin() + again * 3 * 37 * 37);
          REQUIRE((*net)->forward(part.data(), again, &got).is_ok());
          CHECK(got == std::vector<float>(want.begin(), want.begin() + again * 10));
        }
        // The streams' layers are timed while profiling.
        double seconds = 0;
        for (const runtime::LayerProfile& l : (*net)->profile()) seconds += l.seconds;
        CHECK(seconds > 0);
      }
    }
  }
}

TEST_CASE("a conv input hook sees every image of a batch on several threads") {
  const Model m = test::tiny_squeezenet(3, 37, 10, 0.5);
  std::mt19937 rng(12);
  const int64_t batch = 4;
  const std::vector<float> in = test::random_floats(rng, batch * 3 * 37 * 37, -50, 50);
  runtime::NetOptions o;
  o.threads = 2;
  auto net = runtime::Net::create(m, o);
  REQUIRE(net.is_ok());
  int64_t calls = 0, convolutions = 0;
  for (const Layer& l : m.layers) convolutions += l.op == OpKind::kConvolution;
  (*net)->set_conv_input_hook([&](const std::string&, const float*) { ++calls; });
  std::vector<float> out;
  REQUIRE((*net)->forward(in.data(), batch, &out).is_ok());
  CHECK(calls == batch * convolutions);
}
