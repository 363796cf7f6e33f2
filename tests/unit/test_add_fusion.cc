// An element-wise sum run inside the convolutions that write one of its operands (Net's
// fuse_add): SqueezeNet's simple bypass (into a fire's two expands, whose concatenation is the
// operand) and complex bypass (into the 1x1 convolution of the bypass), where it must not be
// fused, and the sums that run as a layer of their own.
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

namespace {

Layer random_conv(const std::string& name, const std::string& in, int64_t cin, int64_t cout,
                  int64_t k, std::mt19937& rng, double density) {
  Layer l = make_conv(name, in, cin, cout, k, 1, k / 2);
  l.weight.data = test::random_floats(rng, l.weight.data.size(), -0.5f, 0.5f);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  for (float& w : l.weight.data)
    if (u(rng) >= density) w = 0.0f;
  l.bias.data = test::random_floats(rng, l.bias.data.size(), -0.1f, 0.1f);
  return l;
}

// The naive reference kernels' outputs for `batch` images.
std::vector<float> reference(const Model& m, const std::vector<float>& in, int64_t batch) {
  runtime::NetOptions ref;
  ref.policy = runtime::KernelPolicy::kReference;
  return forward(m, in, batch, ref);
}

// A fire module reading `in` (8 channels): squeeze to 4, expands 1x1 and 3x3 of 4 each, their
// ReLUs, concatenated into `name`/concat (8 channels).
void add_fire(Model* m, const std::string& name, const std::string& in, std::mt19937& rng,
              double density) {
  m->layers.push_back(random_conv(name + "/squeeze", in, 8, 4, 1, rng, density));
  m->layers.push_back(make_layer(OpKind::kRelu, name + "/relu_s", name + "/squeeze"));
  for (const char* e : {"/e1", "/e3"}) {
    m->layers.push_back(random_conv(name + e, name + "/relu_s", 4, 4, e[2] - '0', rng, density));
    m->layers.push_back(make_layer(OpKind::kRelu, name + e + "_relu", name + e));
  }
  Layer cat = make_layer(OpKind::kConcat, name + "/concat", name + "/e1_relu");
  cat.inputs.push_back(name + "/e3_relu");
  cat.axis = 1;
  m->layers.push_back(cat);
}

// tiny_squeezenet's stem (conv1 7x7/2, ReLU, max pooling 3/2) on in_size x in_size, two fire
// modules, fire2's output summed with fire1's (the simple bypass), a 1x1 classifier and a
// global average pooling.
Model simple_bypass(int64_t in_size, double density, uint32_t seed) {
  std::mt19937 rng(seed);
  Model m = test::tiny_squeezenet(seed, in_size, 10, density);
  m.layers.resize(3);  // conv1, relu1, pool1
  add_fire(&m, "fire1", "pool1", rng, density);
  add_fire(&m, "fire2", "fire1/concat", rng, density);
  Layer sum = make_layer(OpKind::kAdd, "sum", "fire2/concat");
  sum.inputs.push_back("fire1/concat");
  m.layers.push_back(sum);
  m.layers.push_back(random_conv("classifier", "sum", 8, 10, 1, rng, density));
  Layer gap = make_layer(OpKind::kAvgPool, "gap", "classifier");
  gap.pool.global = true;
  m.layers.push_back(gap);
  m.output = "gap";
  return m;
}

// The net's outputs with the sum fused and not, at several thread counts, batches and
// schedules: the same bits, within 1e-5 of the reference, and the profile says where it ran.
void check_fused(const Model& m, int64_t in_size, const std::string& add,
                 const std::string& where) {
  const int64_t image = 3 * in_size * in_size;
  std::mt19937 rng(5);
  const std::vector<float> in = test::random_floats(rng, 3 * image, -50, 50);
  const std::vector<float> want = reference(m, in, 3);
  for (const char* schedule : {"", "shared", "blocks:4096", "panels"})
    for (int threads : {1, 2, 3})
      for (int64_t batch : {1, 3}) {
        INFO("threads " << threads << " batch " << batch << " schedule '" << schedule << "'");
        const std::vector<float> x(in.begin(), in.begin() + batch * image);
        runtime::NetOptions o;
        o.threads = threads;
        o.force_schedule = schedule;
        const NetRun fused = run_net(m, x, batch, o);
        o.fuse_add = false;
        const NetRun apart = run_net(m, x, batch, o);
        CHECK(fused.kernel.at(add) == "in " + where);
        CHECK(apart.kernel.at(add) == "Add");
        CHECK(fused.out == apart.out);
        CHECK(test::max_rel_diff(fused.out, std::vector<float>(want.begin(),
                                                                want.begin() + batch * 10)) <
              1e-5);
      }
}

}  // namespace

TEST_CASE("a simple bypass runs inside the two expands it sums, with the same bits") {
  // 61: a 14x14 plane (rows copied aligned for the SpMM); 71: 16x16 (read in place). Density
  // 0.5 runs the SpMM, 1 the GEMM.
  for (int64_t size : {61, 71})
    for (double density : {0.5, 1.0}) {
      INFO("input " << size << " density " << density);
      const Model m = simple_bypass(size, density, 3);
      check_fused(m, size, "sum", "fire2/e1, fire2/e3");
      const NetRun r = run_net(m, std::vector<float>(3 * size * size, 1.0f), 1, {});
      CHECK(r.kernel.at("fire2/e1").find(" +sum") != std::string::npos);
      CHECK(r.kernel.at("fire1/e1").find(" +sum") == std::string::npos);
    }
}

TEST_CASE("a complex bypass runs inside its 1x1 convolution, computed after the fire") {
  // with_bypass: sum(fire/concat, bypass), the bypass convolution after the fire's expands:
  // the expands cannot add what is not computed yet, so the bypass convolution adds them.
  for (double density : {0.5, 1.0}) {
    INFO("density " << density);
    check_fused(test::with_bypass(test::tiny_squeezenet(6, 61, 10, density), 9), 61,
                "fire/sum", "bypass");
  }
}

TEST_CASE("a sum whose operands other layers read, or of three, runs as a layer of its own") {
  Model m = simple_bypass(61, 0.5, 4);
  // The classifier reads fire2's output and the sum's: fire2/concat has two readers, and
  // fire1/concat too (fire2's squeeze): neither may hold the sum.
  Layer both = make_layer(OpKind::kAdd, "sum2", "sum");
  both.inputs.push_back("fire2/concat");
  both.inputs.push_back("fire1/concat");  // three inputs
  m.layers.insert(m.layers.end() - 2, both);
  m.layers[m.layers.size() - 2].inputs = {"sum2"};
  const int64_t image = 3 * 61 * 61;
  std::mt19937 rng(2);
  const std::vector<float> in = test::random_floats(rng, 2 * image, -50, 50);
  const std::vector<float> want = reference(m, in, 2);
  for (int threads : {1, 2, 3}) {
    INFO("threads " << threads);
    runtime::NetOptions o;
    o.threads = threads;
    const NetRun r = run_net(m, in, 2, o);
    CHECK(r.kernel.at("sum") == "Add");
    CHECK(r.kernel.at("sum2") == "Add");
    CHECK(test::max_rel_diff(r.out, want) < 1e-5);
  }
}

TEST_CASE("a sum of a convolution and the network's input runs inside the convolution") {
  // The input is ready before any layer runs; conv(x) + x, then a global average pooling.
  // Over 5 channels the convolution takes the sum; over 3 it is a stem the rule runs as a
  // direct op, which takes none: the sum then runs as a layer.
  for (int64_t channels : {5, 3})
    for (double density : {0.5, 1.0}) {
      INFO("channels " << channels << " density " << density);
      std::mt19937 rng(12);
      Model m;
      m.name = "residual";
      m.input = "data";
      m.input_shape = {1, channels, 37, 37};
      m.layers.push_back(random_conv("conv", "data", channels, channels, 3, rng, density));
      Layer sum = make_layer(OpKind::kAdd, "sum", "conv");
      sum.inputs.push_back("data");
      m.layers.push_back(sum);
      Layer gap = make_layer(OpKind::kAvgPool, "gap", "sum");
      gap.pool.global = true;
      m.layers.push_back(gap);
      m.output = "gap";
      const std::vector<float> in = test::random_floats(rng, 2 * channels * 37 * 37, -50, 50);
      const std::vector<float> want = reference(m, in, 2);
      const bool direct = channels == 3 && density == 1.0;
      for (int threads : {1, 2}) {
        runtime::NetOptions o;
        o.threads = threads;
        const NetRun fused = run_net(m, in, 2, o);
        o.fuse_add = false;
        CHECK((fused.kernel.at("conv").rfind("direct_", 0) == 0) == direct);
        CHECK(fused.kernel.at("sum") == (direct ? "Add" : "in conv"));
        CHECK(fused.out == forward(m, in, 2, o));
        CHECK(test::max_rel_diff(fused.out, want) < 1e-5);
      }
    }
}

TEST_CASE("a sum is not run inside a convolution whose output another layer reads through a view") {
  // fire2/concat feeds a Dropout (a view of it) that the sum reads, and a second sum: adding
  // fire1's output into fire2's expands would change what the second sum reads.
  Model m = simple_bypass(61, 0.5, 6);
  for (Layer& l : m.layers)
    if (l.name == "sum") l.inputs[0] = "drop";
  auto at = m.layers.begin();
  while (at->name != "sum") ++at;
  at = m.layers.insert(at, make_layer(OpKind::kDropout, "drop", "fire2/concat"));
  Layer again = make_layer(OpKind::kAdd, "sum2", "sum");
  again.inputs.push_back("fire2/concat");
  m.layers.insert(at + 2, again);
  for (Layer& l : m.layers)
    if (l.name == "classifier") l.inputs = {"sum2"};
  const std::vector<float> in = [] {
    std::mt19937 rng(3);
    return test::random_floats(rng, 3 * 61 * 61, -50, 50);
  }();
  const std::vector<float> want = reference(m, in, 1);
  for (int threads : {1, 2}) {
    runtime::NetOptions o;
    o.threads = threads;
    const NetRun r = run_net(m, in, 1, o);
    CHECK(r.kernel.at("sum") == "Add");
    CHECK(test::max_rel_diff(r.out, want) < 1e-5);
  }
}
