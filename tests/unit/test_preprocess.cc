// Preprocessing: the presets against their definitions, grey inputs, the text form, and how a
// model's preprocessing is resolved (given, recorded, Caffe's, assumed) through the CLI too.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>

#include "sqz/import/exporters.h"
#include "sqz/format/sqz_file.h"
#include "sqz/image/image.h"
#include "sqz/pipeline/preprocessing.h"
#include "test_util.h"

using namespace sqz;
namespace P = sqz::pipeline;

namespace {

P::PreprocessSpec torchvision() {
  P::PreprocessSpec s;
  s.preset = P::PreprocessPreset::kTorchvision;
  return s;
}

image::Image pattern(int w, int h, uint32_t seed) {
  image::Image img;
  img.width = w;
  img.height = h;
  img.rgb.resize(static_cast<size_t>(w) * h * 3);
  for (size_t i = 0; i < img.rgb.size(); ++i)
    img.rgb[i] = static_cast<uint8_t>((i * 37 + seed * 11 + (i / 7) * 5) % 256);
  return img;
}

}  // namespace

TEST_CASE("torchvision preset: shorter side to 8/7 of the crop, round-half-even centre, RGB /255") {
  const image::Image img = pattern(40, 30, 1);
  const image::Preprocess p = image::torchvision_preprocess(28, 28);
  CHECK(p.resize == 32);
  auto out = image::preprocess(img, p);
  REQUIRE(out.is_ok());
  REQUIRE(out->size() == 3u * 28 * 28);
  // By the definition: Resize(32) keeps the aspect (30 -> 32, 40 -> int(32 * 40 / 30) = 42),
  // CenterCrop(28) starts at round(14 / 2) = 7 and round(4 / 2) = 2.
  const image::Image resized = image::resize_bilinear_antialias(img, 42, 32);
  const float mean[3] = {0.485f, 0.456f, 0.406f}, stdev[3] = {0.229f, 0.224f, 0.225f};
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < 28; y += 9)
      for (int x = 0; x < 28; x += 5) {
        const float v = resized.rgb[(static_cast<size_t>(y + 2) * 42 + x + 7) * 3 + c];
        CHECK((*out)[(static_cast<size_t>(c) * 28 + y) * 28 + x] ==
              (v / 255.0f - mean[c]) / stdev[c]);
      }
  // An odd margin rounds half to even, as Python does: (43 - 28) / 2 = 7.5 -> 8.
  image::Image r2 = image::resize_bilinear_antialias(img, 43, 32);
  int x0 = 0, y0 = 0;
  image::centre_offsets(r2, p, &x0, &y0);
  CHECK(x0 == 8);
  CHECK(y0 == 2);
}

TEST_CASE("caffe preset is unchanged; grey inputs use PIL's luma; none keeps the size") {
  const image::Image img = pattern(300, 260, 2);
  const image::Preprocess p = image::caffe_preprocess(227, 227);
  auto out = image::preprocess(img, p);
  REQUIRE(out.is_ok());
  const image::Image resized = image::resize_bilinear_antialias(img, 256, 256);
  CHECK((*out)[0] == resized.rgb[(14 * 256 + 14) * 3 + 2] - 104.0f);  // B channel first
  // Grey, no resize, a Fashion-MNIST-like normalisation.
  image::Image g = pattern(28, 28, 3);
  for (size_t i = 0; i < g.rgb.size(); i += 3) g.rgb[i + 1] = g.rgb[i + 2] = g.rgb[i];
  auto spec = P::PreprocessSpec{};
  spec.resize_mode = image::ResizeMode::kNone;
  spec.divisor = 255.0f;
  spec.mean = std::array<float, 3>{0.286f, 0.286f, 0.286f};
  spec.std = std::array<float, 3>{0.353f, 0.353f, 0.353f};
  auto grey = P::preprocess_for({1, 28, 28}, spec);
  REQUIRE(grey.is_ok());
  auto x = image::preprocess(g, *grey);
  REQUIRE(x.is_ok());
  REQUIRE(x->size() == 28u * 28);
  CHECK((*x)[5] == (g.rgb[15] / 255.0f - 0.286f) / 0.353f);
  // A colour pixel: ITU-R 601 luma rounded as PIL's convert("L").
  image::Image c = pattern(28, 28, 4);
  c.rgb[0] = 200, c.rgb[1] = 100, c.rgb[2] = 50;
  auto y = image::preprocess(c, *grey);
  REQUIRE(y.is_ok());
  const float luma = 124.0f;  // 200 x 0.299 + 100 x 0.587 + 50 x 0.114 = 124.2
  CHECK((*y)[0] == (luma / 255.0f - 0.286f) / 0.353f);
  // No resize and an image smaller than the crop: an error, not a read out of bounds.
  auto small = image::preprocess(pattern(20, 28, 5), *grey);
  CHECK(small.status().code() == ErrorCode::kInvalidArgument);
}

TEST_CASE("the text form reads back exactly; bad text is an error naming the field") {
  auto tv = P::preprocess_for({3, 224, 224}, torchvision());
  REQUIRE(tv.is_ok());
  const std::string text = P::describe_preprocess(*tv);
  CHECK(text ==
        "resize=shorter:256 crop=224x224 channels=rgb divisor=255 mean=0.485000014,0.456,"
        "0.405999988 std=0.229000002,0.224000007,0.224999994");
  auto back = P::parse_preprocess(text);
  REQUIRE(back.is_ok());
  CHECK(P::describe_preprocess(*back) == text);
  for (const char* bad :
       {"", "resize=square:256",
        "resize=odd:256 crop=1x1 channels=rgb divisor=1 mean=0,0,0 std=1,1,1",
        "resize=square:256 crop=1x1 channels=rgb divisor=1 mean=0,0 std=1,1,1",
        "resize=square:256 crop=1x1 channels=rgb divisor=1 mean=0,0,0 std=1,0,1",
        "resize=square:256 crop=1x1 channels=rgb divisor=1 mean=0,0,0 std=1,1,1 x=1"}) {
    INFO(bad);
    CHECK_FALSE(P::parse_preprocess(bad).is_ok());
  }
}

TEST_CASE("resolve_preprocess: given, recorded, Caffe forms, assumed, and conflicts") {
  const Shape chw{3, 224, 224};
  auto tv = P::preprocess_for(chw, torchvision());
  REQUIRE(tv.is_ok());
  const std::string recorded = P::describe_preprocess(*tv);
  auto r = P::resolve_preprocess(chw, std::nullopt, recorded, false, false);
  REQUIRE(r.is_ok());
  CHECK(r->source == P::PreprocessSource::kRecorded);
  CHECK(P::describe_preprocess(r->pre) == recorded);
  P::PreprocessSpec caffe;
  auto conflict = P::resolve_preprocess(chw, caffe, recorded, false, false);
  CHECK(conflict.status().code() == ErrorCode::kConflict);
  CHECK(conflict.status().message().find(recorded) != std::string::npos);
  auto forced = P::resolve_preprocess(chw, caffe, recorded, false, true);
  REQUIRE(forced.is_ok());
  CHECK(forced->source == P::PreprocessSource::kGiven);
  CHECK(forced->pre.bgr);
  // The same description given again is no conflict.
  CHECK(P::resolve_preprocess(chw, torchvision(), recorded, false, false).is_ok());
  CHECK(P::resolve_preprocess(chw, std::nullopt, "", true, false)->source ==
        P::PreprocessSource::kCaffeModel);
  CHECK(P::resolve_preprocess(chw, std::nullopt, "", false, false)->source ==
        P::PreprocessSource::kAssumed);
  // A recorded description that does not fit the input is corrupt.
  CHECK(
      P::resolve_preprocess({3, 227, 227}, std::nullopt, recorded, false, false).status().code() ==
      ErrorCode::kCorrupt);
  CHECK(P::preprocess_for({4, 8, 8}).status().code() == ErrorCode::kUnsupported);
}

TEST_CASE("CLI: preprocessing is recorded, followed, shown, and conflicts are usage errors") {
  test::TempDir dir;
  const std::string onnx = dir.file("m.onnx"), img = dir.file("a.png");
  test::write_bytes(onnx, import::export_onnx(test::tiny_squeezenet(8, 31, 3, 0.6)).value());
  test::write_png(img, 50, 40, 7);
  // ONNX without a description: run says what it assumed, in one note line.
  auto assumed = test::run_cli({"run", onnx, img});
  REQUIRE(assumed.exit_code == 0);
  CHECK(assumed.err.find("note: " + onnx + " records no preprocessing; assumed caffe's") !=
        std::string::npos);
  // quantize with --preprocess records it; run follows it without flags and without a note.
  const std::string sqz = dir.file("m.sqz");
  auto q =
      test::run_cli({"quantize", onnx, "--bits", "6", "--preprocess", "torchvision", "-o", sqz});
  REQUIRE(q.exit_code == 0);
  auto file = format::read_sqz(sqz);
  REQUIRE(file.is_ok());
  CHECK(P::recorded_preprocess(file->metadata).value() ==
        "resize=shorter:35 crop=31x31 channels=rgb divisor=255 mean=0.485000014,0.456,"
        "0.405999988 std=0.229000002,0.224000007,0.224999994");
  auto recorded = test::run_cli({"run", sqz, img});
  REQUIRE(recorded.exit_code == 0);
  CHECK(recorded.err.empty());
  auto same = test::run_cli({"run", sqz, img, "--preprocess", "torchvision"});
  CHECK(same.exit_code == 0);
  CHECK(same.out == recorded.out);
  auto conflict = test::run_cli({"run", sqz, img, "--preprocess", "caffe"});
  CHECK(conflict.exit_code == 2);
  CHECK(conflict.err.find("records its preprocessing as") != std::string::npos);
  auto forced = test::run_cli({"run", sqz, img, "--preprocess", "caffe", "--force"});
  CHECK(forced.exit_code == 0);
  CHECK(forced.out != recorded.out);  // other inputs, other scores
  // The ONNX run with the torchvision flags equals the .sqz run's classes.
  auto given = test::run_cli({"run", onnx, img, "--preprocess", "torchvision", "--top", "1"});
  REQUIRE(given.exit_code == 0);
  CHECK(given.err.empty());
  // decode carries it into the ONNX (metadata_props), where run finds it again.
  const std::string back = dir.file("back.onnx");
  REQUIRE(test::run_cli({"decode", sqz, "-o", back}).exit_code == 0);
  auto from_onnx = test::run_cli({"run", back, img});
  REQUIRE(from_onnx.exit_code == 0);
  CHECK(from_onnx.err.empty());
  auto via_sqz = test::run_cli({"run", sqz, img, "--top", "1"});
  CHECK(test::run_cli({"run", back, img, "--top", "1"}).out.substr(0, 40) ==
        via_sqz.out.substr(0, 40));
  CHECK(test::run_cli({"run", back, img, "--preprocess", "caffe"}).exit_code == 2);
  // info shows it; bad values are usage errors.
  CHECK(test::run_cli({"info", sqz}).out.find("resize=shorter:35") != std::string::npos);
  CHECK(test::run_cli({"run", onnx, img, "--mean", "1,2"}).exit_code == 2);
  CHECK(test::run_cli({"run", onnx, img, "--std", "0"}).exit_code == 2);
  CHECK(test::run_cli({"run", onnx, img, "--preprocess", "keras"}).exit_code == 2);
  CHECK(test::run_cli({"eval", sqz, "--images", dir.path(), "--channel-order", "gbr"}).exit_code ==
        2);
}
