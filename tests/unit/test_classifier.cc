// The embedding API (sqz/runtime/classifier.h) against the pieces it composes: the record
// parser, the decoder and preprocessing, and the runtime.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>

#include "sqz/image/record.h"
#include "sqz/runtime/classifier.h"
#include "test_util.h"

using namespace sqz;

namespace {

// What a caller would do by hand: decode, preprocess with p, forward.
std::vector<float> by_hand(const Model& m, const std::string& png, const image::Preprocess& p) {
  auto net = runtime::Net::create(m, {});
  REQUIRE(net.is_ok());
  auto img = image::decode_image_file(png);
  REQUIRE(img.is_ok());
  auto in = image::preprocess(*img, p);
  REQUIRE(in.is_ok());
  std::vector<float> out;
  REQUIRE((*net)->forward(in->data(), 1, &out).is_ok());
  return out;
}

}  // namespace

TEST_CASE("a classifier follows the file's record, else Caffe's, else the caller's") {
  const Model m = test::tiny_squeezenet(3, 19, 10);
  test::TempDir dir;
  const std::string png = dir.path() + "/x.png";
  test::write_png(png, 40, 30, 9);
  image::Preprocess tv = image::torchvision_preprocess(19, 19);
  const format::Metadata recorded{{"preprocess", image::describe_preprocess(tv)}};

  auto c = runtime::Classifier::create(m, recorded);
  REQUIRE(c.is_ok());
  CHECK((*c)->recorded());
  auto scores = (*c)->classify_file(png);
  REQUIRE(scores.is_ok());
  CHECK(*scores == by_hand(m, png, tv));
  CHECK((*c)->classes() == 10);

  auto caffe = runtime::Classifier::create(m, {});
  REQUIRE(caffe.is_ok());
  CHECK(!(*caffe)->recorded());
  auto caffe_scores = (*caffe)->classify_file(png);
  REQUIRE(caffe_scores.is_ok());
  CHECK(*caffe_scores == by_hand(m, png, image::caffe_preprocess(19, 19)));
  CHECK(*caffe_scores != *scores);  // the record was followed

  runtime::ClassifierOptions given;
  given.preprocess = image::caffe_preprocess(19, 19);
  auto over = runtime::Classifier::create(m, recorded, given);
  REQUIRE(over.is_ok());
  auto over_scores = (*over)->classify_file(png);
  REQUIRE(over_scores.is_ok());
  CHECK(*over_scores == *caffe_scores);
}

TEST_CASE("a classifier refuses a record that does not fit and names the missing image") {
  const Model m = test::tiny_squeezenet(3, 19, 10);
  const format::Metadata wrong{
      {"preprocess", image::describe_preprocess(image::caffe_preprocess(27, 27))}};
  auto c = runtime::Classifier::create(m, wrong);
  REQUIRE(!c.is_ok());
  CHECK(c.status().code() == ErrorCode::kCorrupt);
  runtime::ClassifierOptions no_record;
  no_record.follow_record = false;  // a caller resolving it itself can still run inputs
  auto runs = runtime::Classifier::create(m, wrong, no_record);
  REQUIRE(runs.is_ok());
  auto missing = (*runs)->classify_file("/nonexistent/cat.png");
  REQUIRE(!missing.is_ok());
  CHECK(missing.status().message().find("cat.png") != std::string::npos);
  auto none = runtime::Classifier::open("/nonexistent/model.sqz");
  CHECK(!none.is_ok());
}

TEST_CASE("top_k orders by score, ties by index, NaN last") {
  const float s[] = {1.0f, NAN, 3.0f, 3.0f, -1.0f};
  CHECK(runtime::top_k(s, 5, 3) == std::vector<int>{2, 3, 0});
  CHECK(runtime::top_k(s, 5, 9) == std::vector<int>{2, 3, 0, 4, 1});
  CHECK(runtime::top_k(s, 5, 0).empty());
}

namespace {

// Every convolution quantized by hand (no quantizer in this binary): `bits` wide codebooks
// (full: all 2^bits centroids), every third weight of the odd layers pruned.
Model quantized_by_hand(int bits) {
  Model m = test::tiny_squeezenet(5, 19, 10);
  int index = 0;
  for (Layer& l : m.layers) {
    if (l.op != OpKind::kConvolution) continue;
    const int k = 1 << bits;
    l.quant.bits = bits;
    l.quant.codebook.clear();
    for (int c = 0; c < k; ++c) l.quant.codebook.push_back(-1.0f + (2.0f * c + 1) / k);
    if (index++ % 2) {
      l.mask.assign(l.weight.data.size(), 1);
      for (size_t i = 0; i < l.mask.size(); i += 3) l.mask[i] = 0;
    }
    l.quant.codes.clear();
    for (size_t i = 0; i < l.weight.data.size(); ++i) {
      if (!l.mask.empty() && !l.mask[i]) {
        l.weight.data[i] = 0.0f;
        continue;
      }
      const uint8_t code = static_cast<uint8_t>((i * 7 + index) % static_cast<size_t>(k));
      l.quant.codes.push_back(code);
      l.weight.data[i] = l.quant.codebook[code];
    }
  }
  return m;
}

}  // namespace

TEST_CASE("a .sqz runs from its codes alone, bit for bit as from its float32 weights") {
  for (int bits : {3, 8}) {  // 8: a full codebook, whose dense op needs the float32 weights
    const Model m = quantized_by_hand(bits);
    std::string bytes;
    REQUIRE(format::encode_sqz(m, {}, &bytes).is_ok());
    auto dense = format::decode_sqz(bytes);
    format::SqzDecodeOptions codes_only;
    codes_only.dense_weights = false;
    auto codes = format::decode_sqz(bytes, codes_only);
    REQUIRE(dense.is_ok());
    REQUIRE(codes.is_ok());
    int64_t layers = 0;
    for (const Layer& l : codes->model.layers)
      if (l.op == OpKind::kConvolution) {
        CHECK(l.codes_only());
        CHECK(l.weight.data.empty());
        ++layers;
      }
    CHECK(layers > 0);
    Layer expanded = codes->model.layers[0];
    expand_codes(expanded);
    CHECK(expanded.weight.data == dense->model.layers[0].weight.data);
    std::vector<float> in(3 * 19 * 19 * 2);
    for (size_t i = 0; i < in.size(); ++i) in[i] = static_cast<float>((i * 37) % 101) - 50;
    for (auto policy : {runtime::KernelPolicy::kAuto, runtime::KernelPolicy::kSparse,
                        runtime::KernelPolicy::kDense, runtime::KernelPolicy::kReference})
      for (int threads : {1, 2}) {
        CAPTURE(bits);
        CAPTURE(static_cast<int>(policy));
        CAPTURE(threads);
        runtime::NetOptions o;
        o.policy = policy;
        o.threads = threads;
        auto a = runtime::Net::create(dense->model, o);
        auto b = runtime::Net::create(codes->model, o);
        REQUIRE(a.is_ok());
        REQUIRE(b.is_ok());
        std::vector<float> ya, yb;
        REQUIRE((*a)->forward(in.data(), 2, &ya).is_ok());
        REQUIRE((*b)->forward(in.data(), 2, &yb).is_ok());
        CHECK(ya == yb);
        const auto pa = (*a)->profile(), pb = (*b)->profile();
        REQUIRE(pa.size() == pb.size());
        for (size_t i = 0; i < pa.size(); ++i) {
          CHECK(pa[i].density == pb[i].density);
          CHECK(pa[i].kernel == pb[i].kernel);
        }
      }
  }
}

TEST_CASE("a codes-only layer is checked: codes past the codebook, a wrong count") {
  const Model m = quantized_by_hand(3);
  std::string bytes;
  REQUIRE(format::encode_sqz(m, {}, &bytes).is_ok());
  format::SqzDecodeOptions codes_only;
  codes_only.dense_weights = false;
  auto f = format::decode_sqz(bytes, codes_only);
  REQUIRE(f.is_ok());
  CHECK(validate_and_infer(f->model).is_ok());
  Model past = f->model;
  for (Layer& l : past.layers)
    if (l.codes_only()) {
      l.quant.codebook.resize(2);  // codes up to 7 now point past it
      break;
    }
  auto bad = validate_and_infer(past);
  REQUIRE(!bad.is_ok());
  CHECK(bad.status().code() == ErrorCode::kCorrupt);
  Model short_codes = f->model;
  for (Layer& l : short_codes.layers)
    if (l.codes_only()) {
      l.quant.codes.pop_back();
      break;
    }
  CHECK(validate_and_infer(short_codes).status().code() == ErrorCode::kCorrupt);
}

TEST_CASE("Classifier::open reads the codes alone and classifies as from the dense model") {
  const Model m = quantized_by_hand(4);
  test::TempDir dir;
  std::string bytes;
  REQUIRE(format::encode_sqz(m, {}, &bytes).is_ok());
  const std::string sqz = dir.path() + "/q.sqz", png = dir.path() + "/x.png";
  test::write_bytes(sqz, bytes);
  test::write_png(png, 40, 30, 9);
  auto opened = runtime::Classifier::open(sqz);
  REQUIRE(opened.is_ok());
  auto dense = format::decode_sqz(bytes);
  REQUIRE(dense.is_ok());
  auto created = runtime::Classifier::create(dense->model, dense->metadata);
  REQUIRE(created.is_ok());
  auto a = (*opened)->classify_file(png);
  auto b = (*created)->classify_file(png);
  REQUIRE(a.is_ok());
  REQUIRE(b.is_ok());
  CHECK(*a == *b);
}
