// Images decoded on several threads (pipeline::load_inputs, load_images, evaluate_images): the
// same inputs, the same order, the same first error and the same skipped files as on one.
#include <doctest/doctest.h>

#include <fstream>

#include "sqz/pipeline/classify.h"
#include "sqz/pipeline/evaluate.h"
#include "sqz/runtime/net.h"
#include "test_util.h"

using namespace sqz;
namespace P = sqz::pipeline;

namespace {

// 13 PNGs of 3 classes, and a file that does not decode among them (the 6th in order).
P::LabelledFiles thirteen_and_a_bad_one(const test::TempDir& dir) {
  test::write_labelled_pngs(dir.path(), 13);
  P::LabelledFiles list;
  for (int i = 0; i < 13; ++i) {
    list.files.push_back(
        dir.file("images/n00" + std::to_string(1 + i % 3) + "_" + std::to_string(10 + i) + ".png"));
    list.labels.push_back(i % 3);
  }
  const std::string bad = dir.file("images/n003_bad.png");
  std::ofstream(bad) << "not a PNG";
  list.files.insert(list.files.begin() + 5, bad);
  list.labels.insert(list.labels.begin() + 5, 2);
  return list;
}

image::Preprocess small_preprocess() {
  image::Preprocess p = image::caffe_preprocess(19, 19);
  p.resize = 23;
  return p;
}

}  // namespace

TEST_CASE("images decoded on several threads come back in order, as decoded one at a time") {
  test::TempDir dir;
  const P::LabelledFiles list = thirteen_and_a_bad_one(dir);
  const image::Preprocess pre = small_preprocess();
  std::vector<Result<std::vector<float>>> one;
  for (const std::string& f : list.files) one.push_back(P::load_input(f, pre));
  REQUIRE(one[0].is_ok());
  REQUIRE_FALSE(one[5].is_ok());
  for (int threads : {1, 2, 3, 64}) {
    for (size_t begin : {size_t{0}, size_t{4}}) {
      INFO(threads << " threads from " << begin);
      const P::LoadedInputs loaded =
          P::load_inputs(list.files, begin, list.size() + 3, pre, threads);
      CHECK_FALSE(loaded.thrown);
      const auto& got = loaded.results;
      REQUIRE(got.size() == list.size() - begin);
      for (size_t i = 0; i < got.size(); ++i) {
        REQUIRE(got[i].is_ok() == one[begin + i].is_ok());
        if (got[i].is_ok())
          CHECK(got[i].value() == one[begin + i].value());
        else
          CHECK(got[i].status().message() == one[begin + i].status().message());
      }
    }
  }
  CHECK(P::load_inputs(list.files, 3, 3, pre, 4).results.empty());
}

TEST_CASE("load_images and evaluate_images give the same on any thread count") {
  test::TempDir dir;
  const P::LabelledFiles list = thirteen_and_a_bad_one(dir);
  const image::Preprocess pre = small_preprocess();
  // Without skipping: the bad file's error, whatever the threads.
  auto strict = P::load_images(list, pre, nullptr, /*skip_bad_images=*/false, 1);
  REQUIRE_FALSE(strict.is_ok());
  CHECK(strict.status().message().find("n003_bad.png") != std::string::npos);
  const auto one = P::load_images(list, pre, nullptr, /*skip_bad_images=*/true, 1);
  REQUIRE(one.is_ok());
  REQUIRE(one->inputs.size() == 13);
  REQUIRE(one->skipped.size() == 1);
  const Model model = test::tiny_squeezenet(3, 19, 3, 0.5);
  P::SkippedImages skipped_one;
  runtime::NetOptions o;
  auto net_one = runtime::Net::create(model, o);
  REQUIRE(net_one.is_ok());
  const auto acc_one = P::evaluate_images(**net_one, pre, list, nullptr, &skipped_one);
  REQUIRE(acc_one.is_ok());
  CHECK(acc_one->images == 13);
  for (int threads : {2, 3}) {
    INFO(threads << " threads");
    auto failed = P::load_images(list, pre, nullptr, false, threads);
    REQUIRE_FALSE(failed.is_ok());
    CHECK(failed.status().message() == strict.status().message());
    const auto got = P::load_images(list, pre, nullptr, true, threads);
    REQUIRE(got.is_ok());
    CHECK(got->paths == one->paths);
    CHECK(got->labels == one->labels);
    CHECK(got->inputs == one->inputs);
    CHECK(got->skipped == one->skipped);
    o.threads = threads;
    auto net = runtime::Net::create(model, o);
    REQUIRE(net.is_ok());
    CHECK((*net)->threads() == threads);
    P::SkippedImages skipped;
    const auto acc = P::evaluate_images(**net, pre, list, nullptr, &skipped);
    REQUIRE(acc.is_ok());
    CHECK(acc->images == acc_one->images);
    CHECK(acc->top1 == acc_one->top1);
    CHECK(acc->top5 == acc_one->top5);
    CHECK(skipped == skipped_one);
    auto refused = P::evaluate_images(**net, pre, list, nullptr, nullptr);  // no skipping
    REQUIRE_FALSE(refused.is_ok());
    CHECK(refused.status().message().find("n003_bad.png") != std::string::npos);
  }
}
