// Image streams (NetOptions::image_streams): a batch split among the threads, each running its
// own images through the whole network, gives the bits of one pass after another.
#include <doctest/doctest.h>

#include <random>

#include "net_run.h"
#include "sqz/runtime/net.h"
#include "test_util.h"

using namespace sqz;

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
