// The training engine: gradients against finite differences for every layer type and both
// losses, masks and codebooks respected, determinism, and the IDX reader.
#include <doctest/doctest.h>

#include <cmath>
#include <random>

#include "other_machines.h"
#include "sqz/core/file_io.h"
#include "sqz/kernels/denormals.h"
#include "sqz/quantize/quantize.h"
#include "sqz/runtime/net.h"
#include "sqz/train/idx.h"
#include "sqz/train/trainer.h"
#include "test_util.h"

using namespace sqz;

namespace {

// tiny_squeezenet covers conv, ReLU, max pool, concat, dropout and global average pool; the
// variant adds a channel softmax before the pooling.
Model with_softmax(Model m) {
  Layer sm;
  sm.name = "softmax_mid";
  sm.op = OpKind::kSoftmax;
  sm.inputs = {"relu_final"};
  sm.output = "softmax_mid";
  m.layers.insert(m.layers.end() - 1, sm);
  m.layers.back().inputs = {"softmax_mid"};
  return m;
}

// eps: the central difference's step (smaller where more ReLU kinks lie near the inputs).
void check_gradients(Model m, const train::TrainOptions& o, const std::vector<float>& x,
                     const std::vector<int>& y, const std::vector<float>* teacher, int64_t n,
                     float eps = 1e-2f) {
  auto trainer = train::Trainer::create(&m, o);
  REQUIRE(trainer.is_ok());
  std::vector<std::vector<float>> gw, gb;
  REQUIRE((*trainer)
              ->gradients(x.data(), y.data(), teacher ? teacher->data() : nullptr, n, &gw, &gb)
              .is_ok());
  // Central difference of the loss in one parameter against the analytic gradient.
  auto probe = [&](float& param, double analytic, const std::string& what) {
    const float saved = param;
    std::vector<std::vector<float>> unused_w, unused_b;
    const float* t = teacher ? teacher->data() : nullptr;
    param = saved + eps;
    const double up = (*trainer)->gradients(x.data(), y.data(), t, n, &unused_w, &unused_b).value();
    param = saved - eps;
    const double down =
        (*trainer)->gradients(x.data(), y.data(), t, n, &unused_w, &unused_b).value();
    param = saved;
    const double numeric = (up - down) / (2 * eps);
    INFO(what << " numeric " << numeric << " analytic " << analytic);
    CHECK(std::fabs(numeric - analytic) <= 2e-3 + 0.05 * std::fabs(numeric));
  };
  size_t conv = 0;
  std::mt19937 rng(3);
  for (Layer& l : m.layers) {
    if (l.op != OpKind::kConvolution) continue;
    for (int i = 0; i < 6; ++i) {
      const size_t k = rng() % l.weight.data.size();
      probe(l.weight.data[k], gw[conv][k], "layer " + l.name + " weight " + std::to_string(k));
    }
    const size_t k = rng() % l.bias.data.size();
    probe(l.bias.data[k], gb[conv][k], "layer " + l.name + " bias " + std::to_string(k));
    ++conv;
  }
}

}  // namespace

TEST_CASE("gradients match finite differences: every layer type, both losses") {
  std::mt19937 rng(1);
  const int64_t n = 3;
  std::vector<float> x = test::random_floats(rng, n * 3 * 19 * 19, -2, 2);
  std::vector<int> y{1, 4, 7};
  std::vector<float> teacher = test::random_floats(rng, n * 10, -3, 3);
  // Steps small enough that no ReLU kink lies within them for these inputs and dropout masks
  // (the bypass sums two paths: larger activations, more kinks).
  const std::pair<Model, float> cases[] = {
      {test::tiny_squeezenet(31, 19, 10), 1e-3f},
      {with_softmax(test::tiny_squeezenet(32, 19, 10)), 1e-2f},
      {test::with_bypass(test::tiny_squeezenet(33, 19, 10), 34), 2e-3f}};
  for (const auto& [m, eps] : cases) {
    train::TrainOptions o;
    o.threads = 2;
    o.dropout = 0.3;  // a fixed mask within one step
    check_gradients(m, o, x, y, nullptr, n, eps);
    o.distill_alpha = 0.3;
    o.distill_temperature = 2.0;
    check_gradients(m, o, x, y, &teacher, n, eps);
  }
}

// The Fire module of tiny_squeezenet alone, from its input (pool1's output) to its concat.
Model fire_block(Model m) {
  Model b;
  b.name = "fire";
  b.input = "pool1";
  b.input_shape = {1, 8, 3, 3};  // a 19 x 19 input: conv1 7x7/2 -> 7, pool 3x3/2 -> 3
  for (const Layer& l : m.layers)
    if (l.name.rfind("fire/", 0) == 0) b.layers.push_back(l);
  b.output = "fire/concat";
  return b;
}

TEST_CASE("gradients match finite differences: the output-matching loss, any output shape") {
  std::mt19937 rng(5);
  const int64_t n = 3;
  train::TrainOptions o;
  o.threads = 2;
  o.loss = train::Loss::kMatchOutput;
  {  // the class scores of a whole network (its Softmax skipped) matched to targets
    std::vector<float> x = test::random_floats(rng, n * 3 * 19 * 19, -2, 2);
    std::vector<float> target = test::random_floats(rng, n * 10, -1, 1);
    check_gradients(test::tiny_squeezenet(41, 19, 10), o, x, {}, &target, n, 3e-4f);
  }
  const Model block = fire_block(test::tiny_squeezenet(42, 19, 10));
  std::vector<float> x = test::random_floats(rng, n * 8 * 3 * 3, 0, 2);
  std::vector<float> target = test::random_floats(rng, n * 12 * 3 * 3, 0, 1);
  check_gradients(block, o, x, {}, &target, n, 3e-4f);
  // The loss is the mean squared difference, by hand: a model whose output equals the target
  // scores 0, and one whose output is the target plus 1 everywhere scores 1.
  Model copy = block;
  auto trainer = train::Trainer::create(&copy, o);
  REQUIRE(trainer.is_ok());
  CHECK((*trainer)->classes() == 12 * 3 * 3);
  std::vector<float> out;
  REQUIRE((*trainer)->predict(x.data(), n, &out).is_ok());
  std::vector<std::vector<float>> gw, gb;
  CHECK((*trainer)->gradients(x.data(), nullptr, out.data(), n, &gw, &gb).value() ==
        doctest::Approx(0.0));
  for (float& v : out) v += 1.0f;
  CHECK((*trainer)->gradients(x.data(), nullptr, out.data(), n, &gw, &gb).value() ==
        doctest::Approx(1.0));
  CHECK(!(*trainer)->gradients(x.data(), nullptr, nullptr, n, &gw, &gb).is_ok());
}

TEST_CASE("a flatten of a spatial blob keeps the image-major order of its features") {
  // The engine keeps a shard channel by channel; Flatten of [C, H, W] must still give the
  // feature c*H*W + p of each image, as ONNX and the runtime do.
  std::mt19937 rng(6);
  const int64_t n = 3;
  const Model block = fire_block(test::tiny_squeezenet(43, 19, 10));
  Model flat = block;
  flat.layers.push_back(make_layer(OpKind::kFlatten, "flat", block.output));
  flat.output = "flat";
  train::TrainOptions o;
  o.threads = 2;
  o.loss = train::Loss::kMatchOutput;
  const std::vector<float> x = test::random_floats(rng, n * 8 * 3 * 3, 0, 2);
  std::vector<float> spatial, flattened;
  for (auto [model, out] : {std::pair{block, &spatial}, std::pair{flat, &flattened}}) {
    auto trainer = train::Trainer::create(&model, o);
    REQUIRE(trainer.is_ok());
    REQUIRE((*trainer)->predict(x.data(), n, out).is_ok());
  }
  REQUIRE(spatial.size() == static_cast<size_t>(n * 12 * 3 * 3));
  CHECK(flattened == spatial);
  runtime::NetOptions no;
  auto net = runtime::Net::create(flat, no);
  REQUIRE(net.is_ok());
  std::vector<float> inferred;
  REQUIRE((*net)->forward(x.data(), n, &inferred).is_ok());
  CHECK(test::max_rel_diff(flattened, inferred) < 1e-5);
  const std::vector<float> target = test::random_floats(rng, n * 12 * 3 * 3, 0, 1);
  check_gradients(flat, o, x, {}, &target, n, 3e-4f);
}

TEST_CASE("training learns, respects masks and codebooks, and is deterministic") {
  std::mt19937 rng(2);
  const int64_t n = 16;
  std::vector<float> x = test::random_floats(rng, n * 3 * 19 * 19, -1, 1);
  std::vector<int> y(n);
  for (int64_t b = 0; b < n; ++b) y[b] = static_cast<int>(b % 10);
  auto run = [&](Model& m, train::TrainOptions o, int steps) {
    auto t = train::Trainer::create(&m, o);
    REQUIRE(t.is_ok());
    double first = 0, last = 0;
    for (int s = 0; s < steps; ++s) {
      last = (*t)->step(x.data(), y.data(), nullptr, n).value();
      if (s == 0) first = last;
    }
    return std::pair{first, last};
  };
  train::TrainOptions o;
  o.threads = 2;
  o.learning_rate = 1e-2;
  o.dropout = 0;
  Model a = test::tiny_squeezenet(5, 19, 10, 0.5), b = a;
  for (Model* m : {&a, &b})
    for (Layer& l : m->layers) {
      if (l.op != OpKind::kConvolution) continue;
      l.mask.resize(l.weight.data.size());
      for (size_t k = 0; k < l.mask.size(); ++k) l.mask[k] = l.weight.data[k] != 0.0f;
    }
  auto [first, last] = run(a, o, 60);
  CHECK(last < 0.75 * first);  // it fits 16 images
  run(b, o, 60);
  for (size_t i = 0; i < a.layers.size(); ++i) {
    CHECK(a.layers[i].weight.data == b.layers[i].weight.data);  // same seed, same threads
    for (size_t k = 0; k < a.layers[i].mask.size(); ++k)
      if (!a.layers[i].mask[k]) CHECK(a.layers[i].weight.data[k] == 0.0f);
  }
  // Codebook-aware: only centroids move, assignments stay, weights stay tied.
  Model q = test::tiny_squeezenet(6, 19, 10, 0.5);
  for (Layer& l : q.layers) {
    if (l.op != OpKind::kConvolution) continue;
    l.mask.resize(l.weight.data.size());
    l.quant.bits = 2;
    l.quant.codebook = {-0.3f, -0.1f, 0.1f, 0.3f};
    for (size_t k = 0; k < l.weight.data.size(); ++k) {
      l.mask[k] = l.weight.data[k] != 0.0f;
      if (!l.mask[k]) continue;
      const uint8_t c = static_cast<uint8_t>(
          (l.weight.data[k] + 0.5f) * 4 > 3 ? 3 : (l.weight.data[k] + 0.5f) * 4);
      l.quant.codes.push_back(c);
      l.weight.data[k] = l.quant.codebook[c];
    }
  }
  const Model q0 = q;
  o.train_centroids = true;
  run(q, o, 5);
  for (size_t i = 0; i < q.layers.size(); ++i) {
    const Layer& l = q.layers[i];
    if (l.op != OpKind::kConvolution) continue;
    CHECK(l.quant.codes == q0.layers[i].quant.codes);
    CHECK(l.quant.codebook != q0.layers[i].quant.codebook);
    size_t k = 0;
    for (size_t p = 0; p < l.weight.data.size(); ++p)
      CHECK(l.weight.data[p] == (l.mask[p] ? l.quant.codebook[l.quant.codes[k++]] : 0.0f));
  }
}

// The engine blocks its products by the machine's caches (sgemm's K blocks by the L1d,
// sgemm_nt's by the L1d and L2); blocks only regroup the work, so a CPU with other caches
// trains the same weights, bit for bit (the main job's .sqz is the same bytes on every CPU).
TEST_CASE("training gives the same weights, bit for bit, whatever the machine's caches") {
  std::mt19937 rng(31);
  const int64_t n = 12, size = 37;
  const std::vector<float> x = test::random_floats(rng, n * 3 * size * size, -1, 1);
  std::vector<int> y(n);
  for (int64_t b = 0; b < n; ++b) y[b] = static_cast<int>(b % 10);
  train::TrainOptions o;
  o.threads = 2;
  o.learning_rate = 1e-2;
  auto trained = [&] {
    Model m = test::tiny_squeezenet(31, size, 10, 1.0);
    auto t = train::Trainer::create(&m, o);
    REQUIRE(t.is_ok());
    for (int s = 0; s < 4; ++s) REQUIRE((*t)->step(x.data(), y.data(), nullptr, n).is_ok());
    return m;
  };
  const Model want = trained();
  for (const test::Caches& c : test::other_machines()) {
    const kernels::Machine m = test::described(c);
    const test::MachineScope scope(&m);
    const Model got = trained();
    for (size_t i = 0; i < got.layers.size(); ++i) {
      INFO(c.name << ": layer " << got.layers[i].name);
      CHECK(got.layers[i].weight.data == want.layers[i].weight.data);
      CHECK(got.layers[i].bias.data == want.layers[i].bias.data);
    }
  }
}

// The two engines (the trainer's forward pass and the inference runtime) each implement every
// op; they must compute the same function. Random models: sizes, classes, densities, weight
// sharing, a mid-network softmax, batch sizes and thread counts.
TEST_CASE("the trainer's forward pass equals the runtime's on random models") {
  std::mt19937 rng(11);
  for (int trial = 0; trial < 12; ++trial) {
    const int64_t size = 15 + static_cast<int64_t>(rng() % 20);
    const int64_t classes = 2 + static_cast<int64_t>(rng() % 12);
    const double density = trial % 3 == 0 ? 1.0 : 0.2 + 0.1 * (rng() % 8);
    Model m = test::tiny_squeezenet(100 + trial, size, classes, density);
    if (trial % 4 == 1) m = with_softmax(m);
    if (trial % 3 == 2) m = test::with_bypass(m, 200 + trial);
    if (trial % 2 == 1) {
      quantize::QuantizeOptions q;
      q.bits = 2 + trial % 6;
      REQUIRE(quantize::quantize_model(m, q).is_ok());
    }
    const int64_t n = 1 + static_cast<int64_t>(rng() % 3);
    const int threads = 1 + trial % 3;
    const std::vector<float> x = test::random_floats(rng, static_cast<size_t>(n * 3 * size * size));
    INFO("trial " << trial << ": input " << size << ", classes " << classes << ", density "
                  << density << ", batch " << n << ", threads " << threads);
    Model for_trainer = m;
    train::TrainOptions o;
    o.threads = threads;
    auto trainer = train::Trainer::create(&for_trainer, o);
    REQUIRE(trainer.is_ok());
    std::vector<float> trained;
    REQUIRE((*trainer)->predict(x.data(), n, &trained).is_ok());
    for (runtime::KernelPolicy policy :
         {runtime::KernelPolicy::kReference, runtime::KernelPolicy::kDense, runtime::KernelPolicy::kSparse}) {
      runtime::NetOptions no;
      no.threads = threads;
      no.policy = policy;
      auto net = runtime::Net::create(m, no);
      REQUIRE(net.is_ok());
      std::vector<float> inferred;
      REQUIRE((*net)->forward(x.data(), n, &inferred).is_ok());
      REQUIRE(inferred.size() == trained.size());
      INFO("policy " << static_cast<int>(policy));
      CHECK(test::max_rel_diff(trained, inferred) < 1e-4);
    }
  }
}

TEST_CASE("the trainer takes denormals as zero on every thread, the caller's mode kept") {
  // One 1x1 convolution of weight 1 over inputs of 1e-39 (a denormal): its outputs, and its
  // weight gradients (input x output gradient), are denormals unless the arithmetic flushes.
  Model m = test::uniform_1x1(1, 2, 1, 1.0f);
  const int64_t n = 200;  // four chunks of predict()'s 64 images: both threads work
  const std::vector<float> x(n, 1e-39f);
  const std::vector<int> y(n, 0);
  REQUIRE(std::fpclassify(x[0]) == FP_SUBNORMAL);
  CHECK_FALSE(kernels::denormals_are_zero());
  train::TrainOptions o;
  o.threads = 2;
  auto trainer = train::Trainer::create(&m, o);
  REQUIRE(trainer.is_ok());
  std::vector<float> logits;
  REQUIRE((*trainer)->predict(x.data(), n, &logits).is_ok());
  REQUIRE(logits.size() == static_cast<size_t>(2 * n));
  for (float v : logits) CHECK(v == 0.0f);
  std::vector<std::vector<float>> gw, gb;
  REQUIRE((*trainer)->gradients(x.data(), y.data(), nullptr, n, &gw, &gb).is_ok());
  REQUIRE(gw.size() == 1);
  for (float g : gw[0]) CHECK(g == 0.0f);
  CHECK(gb[0][0] != 0.0f);  // the bias's gradient is the loss's: not small
  REQUIRE((*trainer)->step(x.data(), y.data(), nullptr, n).is_ok());
  CHECK_FALSE(kernels::denormals_are_zero());  // this thread's arithmetic as before
  volatile float tiny = 1e-30f;
  CHECK(tiny * 1e-10f != 0.0f);  // a denormal product, not flushed here
}

TEST_CASE("IDX reader: valid, truncated, corrupt and missing files") {
  test::TempDir dir;
  std::string images("\x00\x00\x08\x03\x00\x00\x00\x02\x00\x00\x00\x02\x00\x00\x00\x03", 16);
  images += std::string(12, '\x07');
  std::string labels("\x00\x00\x08\x01\x00\x00\x00\x02\x03\x09", 10);
  test::write_bytes(dir.file("train-images-idx3-ubyte"), images);
  test::write_bytes(dir.file("train-labels-idx1-ubyte"), labels);
  auto d = train::read_fashion_mnist(dir.path(), "train");
  REQUIRE(d.is_ok());
  CHECK(d->images.count == 2);
  CHECK(d->labels == std::vector<uint8_t>{3, 9});
  test::write_bytes(dir.file("train-images-idx3-ubyte"), images.substr(0, images.size() - 1));
  auto truncated = train::read_fashion_mnist(dir.path(), "train");
  REQUIRE_FALSE(truncated.is_ok());
  CHECK(truncated.status().message().find("dataset-fashion-mnist") != std::string::npos);
  test::write_bytes(dir.file("train-images-idx3-ubyte"), "\x1f\x8bnot really gzip");
  CHECK_FALSE(train::read_fashion_mnist(dir.path(), "train").is_ok());
  auto missing = train::read_fashion_mnist(dir.file("nowhere"), "train");
  REQUIRE_FALSE(missing.is_ok());
  CHECK(missing.status().message().find("apt-get install dataset-fashion-mnist") !=
        std::string::npos);
}
