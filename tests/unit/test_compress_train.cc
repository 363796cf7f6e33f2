// compress with labelled retraining: the same recipe from an image folder (CLI and library)
// as from tensors, on a few hundred Fashion-MNIST images written as PNG class folders.
#include <doctest/doctest.h>

#include <filesystem>

#include "sqz/format/sqz_file.h"
#include "sqz/pipeline/compress.h"
#include "sqz/train/idx.h"
#include "test_util.h"

using namespace sqz;
namespace P = sqz::pipeline;

namespace {

constexpr int kImages = 300;
constexpr float kMean = 0.2860f, kStd = 0.3530f;  // as the embedded default was trained

// The first kImages training images as DIR/<class>/<index>.png and as tensors in the folder
// walk's order (class folder, then file name).
struct FashionFolder {
  test::TempDir dir;
  std::string root = dir.file("train");
  P::LabelledTensors tensors;
  FashionFolder() {
    auto d = train::read_fashion_mnist(train::kFashionMnistDir, "train");
    REQUIRE_MESSAGE(d.is_ok(), "needs Debian's dataset-fashion-mnist (scripts/install-deps.sh)");
    tensors.chw = {1, 28, 28};
    for (int label = 0; label < 10; ++label) {
      std::filesystem::create_directories(root + "/" + std::to_string(label));
      for (int i = 0; i < kImages; ++i) {
        if (d->labels[static_cast<size_t>(i)] != label) continue;
        const uint8_t* px = d->images.pixels.data() + static_cast<size_t>(i) * 784;
        char name[32];
        std::snprintf(name, sizeof name, "/%05d.png", i);
        test::write_png_pixels(root + "/" + std::to_string(label) + name, 28, 28, 1, px);
        for (int k = 0; k < 784; ++k) tensors.x.push_back((px[k] / 255.0f - kMean) / kStd);
        tensors.y.push_back(label);
      }
    }
  }
};

P::CompressOptions options() {
  P::CompressOptions o;
  o.model_path = std::string(SQZ_SOURCE_DIR) + "/samples/fashion_squeezenet.onnx";
  o.threads = 2;
  o.seed = 7;
  o.pruning.density = 0.5;
  o.pruning.granularity = prune::Granularity::kKernel;
  o.quantize.bits = 3;
  o.retrain.prune_steps = 1;
  o.retrain.retrain_steps = 20;
  o.retrain.finetune_steps = 10;
  o.retrain.batch = 16;
  return o;
}

// Weights, codebooks and biases of the compressed model inside a .sqz.
Model model_of(const std::string& bytes) {
  auto f = format::decode_sqz(bytes);
  REQUIRE(f.is_ok());
  return f->model;
}

void check_same_model(const Model& a, const Model& b) {
  REQUIRE(a.layers.size() == b.layers.size());
  for (size_t i = 0; i < a.layers.size(); ++i) {
    INFO("layer " << a.layers[i].name);
    CHECK(a.layers[i].weight.data == b.layers[i].weight.data);
    CHECK(a.layers[i].bias.data == b.layers[i].bias.data);
    CHECK(a.layers[i].quant.codebook == b.layers[i].quant.codebook);
    CHECK(a.layers[i].mask == b.layers[i].mask);
  }
}

}  // namespace

TEST_CASE("compress --train: an image folder gives what the library gives on the same tensors") {
  FashionFolder data;
  REQUIRE(data.tensors.count() == kImages);
  P::CompressOptions on_tensors = options();
  on_tensors.train_tensors = &data.tensors;
  auto a = P::compress(on_tensors, nullptr);
  REQUIRE(a.is_ok());

  P::CompressOptions on_images = options();
  on_images.train_dir = data.root;
  P::PreprocessSpec fashion;
  fashion.resize_mode = image::ResizeMode::kNone;
  fashion.divisor = 255.0f;
  fashion.mean = std::array<float, 3>{kMean, kMean, kMean};
  fashion.std = std::array<float, 3>{kStd, kStd, kStd};
  on_images.preprocess = fashion;
  auto b = P::compress(on_images, nullptr);
  REQUIRE(b.is_ok());
  const Model ma = model_of(a->bytes), mb = model_of(b->bytes);
  check_same_model(ma, mb);
  // Pruned to about half, every convolution at 3 bits or narrower codebooks.
  CHECK(ma.nonzero_weight_count() < ma.weight_count() * 0.6);
  for (const Layer& l : ma.layers)
    if (l.op == OpKind::kConvolution) CHECK(l.quant.bits == 3);

  // The CLI on the same folder: the same model again, and the preprocessing recorded.
  const std::string out = data.dir.file("cli.sqz");
  auto cli = test::run_cli({"compress",
                            on_images.model_path,
                            "--train",
                            data.root,
                            "--resize-mode",
                            "none",
                            "--pixel-divisor",
                            "255",
                            "--mean",
                            "0.2860",
                            "--std",
                            "0.3530",
                            "--density",
                            "0.5",
                            "--granularity",
                            "kernel",
                            "--bits",
                            "3",
                            "--prune-steps",
                            "1",
                            "--train-steps",
                            "20",
                            "--finetune-steps",
                            "10",
                            "--train-batch",
                            "16",
                            "--seed",
                            "7",
                            "--threads",
                            "2",
                            "-o",
                            out,
                            "-q"});
  INFO(cli.err);
  REQUIRE(cli.exit_code == 0);
  auto file = format::read_sqz(out);
  REQUIRE(file.is_ok());
  check_same_model(file->model, mb);
  CHECK(P::recorded_preprocess(file->metadata).value() ==
        "resize=none:256 crop=28x28 channels=grey divisor=255 mean=0.286000013 std=0.352999985");
  // A run on a held-out image of the folder works with the recorded preprocessing alone.
  auto run = test::run_cli({"run", out, data.root + "/0/00001.png", "--top", "1"});
  CHECK(run.exit_code == 0);
  CHECK(run.err.empty());
}

TEST_CASE("compress --train: bad training data fails before any work") {
  test::TempDir dir;
  const std::string model = std::string(SQZ_SOURCE_DIR) + "/samples/fashion_squeezenet.onnx";
  std::filesystem::create_directories(dir.file("flat"));
  test::write_png(dir.file("flat/x.png"), 28, 28, 1);
  auto unlabelled = test::run_cli({"compress", model, "--train", dir.file("flat"), "--resize-mode",
                                   "none", "-o", dir.file("o.sqz")});
  CHECK(unlabelled.exit_code == 1);
  CHECK(unlabelled.err.find("no class") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dir.file("o.sqz")));
  std::filesystem::create_directories(dir.file("tree/a"));
  test::write_png(dir.file("tree/a/x.png"), 28, 28, 1);
  // One class folder for ten outputs: refused unless a class list maps it.
  auto one_folder = test::run_cli({"compress", model, "--train", dir.file("tree"), "--resize-mode",
                                   "none", "-o", dir.file("o.sqz")});
  CHECK(one_folder.exit_code == 1);
  CHECK(one_folder.err.find("--labels") != std::string::npos);
  test::write_bytes(dir.file("classes.txt"), "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n");
  auto big_batch =
      test::run_cli({"compress", model, "--train", dir.file("tree"), "--labels",
                     dir.file("classes.txt"), "--resize-mode", "none", "-o", dir.file("o.sqz")});
  CHECK(big_batch.exit_code == 1);
  CHECK(big_batch.err.find("the batch (64) must be in 1..1") != std::string::npos);
  CHECK(test::run_cli({"compress", model, "--train", dir.file("tree"), "--schedule", "x", "-o",
                       dir.file("o.sqz")})
            .exit_code == 2);
}
