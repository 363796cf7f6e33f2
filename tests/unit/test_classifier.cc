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
