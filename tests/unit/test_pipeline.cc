// The pipeline library called directly (no CLI): calibration, the stage table, the image
// folds, compress as a call and the report's pooling (width allocation: test_bit_allocation.cc).
// Written before the pipeline moved out of cli/, to pin it.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "sqz/format/sqz_file.h"
#include "sqz/import/exporters.h"
#include "sqz/pipeline/bit_allocation.h"
#include "sqz/pipeline/calibrate.h"
#include "sqz/pipeline/compress.h"
#include "sqz/pipeline/evaluate.h"
#include "sqz/pipeline/image_split.h"
#include "sqz/pipeline/report.h"
#include "sqz/quantize/quantize.h"
#include "sqz/report/stage_table.h"
#include "sqz/runtime/net.h"
#include "test_util.h"

using namespace sqz;
namespace P = sqz::pipeline;

namespace {

// Calibration images: a few smooth random RGB images already at the preprocess's resize.
std::vector<image::Image> calib_images(int n, int side) {
  std::vector<image::Image> out;
  std::mt19937 rng(5);
  for (int i = 0; i < n; ++i) {
    image::Image img;
    img.width = img.height = side;
    img.rgb.resize(static_cast<size_t>(side) * side * 3);
    for (auto& v : img.rgb) v = static_cast<uint8_t>(rng() % 256);
    out.push_back(img);
  }
  return out;
}

image::Preprocess small_preprocess(int crop) {
  image::Preprocess p = image::caffe_preprocess(crop, crop);
  p.resize = crop + 4;
  return p;
}

}  // namespace

TEST_CASE("calibrate: moves centroids and biases only, deterministic for a seed") {
  const Model teacher = test::tiny_squeezenet(4, 19, 4, 0.8);
  Model student = teacher;
  quantize::QuantizeOptions q;
  q.bits = 3;
  REQUIRE(quantize::quantize_model(student, q).is_ok());
  const Model quantized = student;
  const auto images = calib_images(6, 23);
  const image::Preprocess pre = small_preprocess(19);
  P::CalibrateOptions o;
  o.steps = 12;
  o.batch = 2;
  o.learning_rate = 1e-2;
  std::vector<double> losses;
  REQUIRE(P::calibrate(student, teacher, images, pre, o, [&](int step, double loss) {
            CHECK(step == static_cast<int>(losses.size()) + 1);
            losses.push_back(loss);
            return Status::ok();
          }).is_ok());
  REQUIRE(losses.size() == 12);
  bool centroids_moved = false, biases_moved = false;
  for (size_t i = 0; i < student.layers.size(); ++i) {
    const Layer &a = quantized.layers[i], &b = student.layers[i];
    if (a.op != OpKind::kConvolution) continue;
    CHECK(a.mask == b.mask);
    CHECK(a.quant.codes == b.quant.codes);
    centroids_moved |= a.quant.codebook != b.quant.codebook;
    biases_moved |= a.bias.data != b.bias.data;
    // Every stored weight is still its centroid.
    Layer check = b;
    quantize::apply_codebook(check);
    CHECK(check.weight.data == b.weight.data);
  }
  CHECK(centroids_moved);
  CHECK(biases_moved);
  // The same seed gives the same model, bit for bit.
  Model again = quantized;
  REQUIRE(P::calibrate(again, teacher, images, pre, o, [](int, double) {
            return Status::ok();
          }).is_ok());
  for (size_t i = 0; i < again.layers.size(); ++i) {
    CHECK(again.layers[i].quant.codebook == student.layers[i].quant.codebook);
    CHECK(again.layers[i].bias.data == student.layers[i].bias.data);
  }
  // Bad settings are errors, not crashes.
  CHECK_FALSE(
      P::calibrate(again, teacher, {}, pre, o, [](int, double) { return Status::ok(); }).is_ok());
  o.batch = 0;
  CHECK_FALSE(P::calibrate(again, teacher, images, pre, o, [](int, double) {
                return Status::ok();
              }).is_ok());
}

TEST_CASE("calibrate: keeps the state nearest the teacher on the images held aside") {
  const Model teacher = test::tiny_squeezenet(4, 19, 4, 0.8);
  Model quantized = teacher;
  quantize::QuantizeOptions q;
  q.bits = 2;
  REQUIRE(quantize::quantize_model(quantized, q).is_ok());
  for (Layer& l : quantized.layers)  // well away from the teacher
    for (size_t i = 0; i < l.bias.data.size(); ++i) l.bias.data[i] += i % 2 ? 0.3f : -0.3f;
  const auto images = calib_images(20, 29);
  const image::Preprocess pre = small_preprocess(19);
  const auto ok = [](int, double) { return Status::ok(); };
  P::CalibrateOptions o;
  o.steps = 12;
  o.batch = 2;
  o.validation_share = 0.4;  // 8 of 20 held aside
  o.validate_every = 4;
  // A sane rate: some state after the start is nearer the teacher, and is the one kept.
  o.learning_rate = 1e-2;
  Model good = quantized;
  P::CalibrationReport r;
  REQUIRE(P::calibrate(good, teacher, images, pre, o, ok, &r).is_ok());
  CHECK(r.trained_on == 12);
  CHECK(r.validated_on == 8);
  CHECK(r.step_kept > 0);
  CHECK(r.kl_kept < r.kl_before);
  // An absurd rate: every step moves away, so the state before the first one is kept, bit for
  // bit, and said.
  o.learning_rate = 5;
  Model wild = quantized;
  REQUIRE(P::calibrate(wild, teacher, images, pre, o, ok, &r).is_ok());
  CHECK(r.step_kept == 0);
  CHECK(r.kl_kept == r.kl_before);
  for (size_t i = 0; i < wild.layers.size(); ++i) {
    CHECK(wild.layers[i].quant.codebook == quantized.layers[i].quant.codebook);
    CHECK(wild.layers[i].bias.data == quantized.layers[i].bias.data);
  }
  // Without a validation share the last state is kept and nothing is measured.
  o.validation_share = 0;
  Model last = quantized;
  REQUIRE(P::calibrate(last, teacher, images, pre, o, ok, &r).is_ok());
  CHECK(r.validated_on == 0);
  CHECK(r.trained_on == 20);
  bool moved = false;
  for (size_t i = 0; i < last.layers.size(); ++i)
    moved |= last.layers[i].quant.codebook != quantized.layers[i].quant.codebook;
  CHECK(moved);
  o.validation_share = 0.6;
  CHECK_FALSE(P::calibrate(last, teacher, images, pre, o, ok).is_ok());
  o.validation_share = 0.1;
  o.validate_every = 0;
  CHECK_FALSE(P::calibrate(last, teacher, images, pre, o, ok).is_ok());
}

TEST_CASE("stage table: text, Markdown and JSON renderings") {
  std::vector<P::StageRow> rows = {{"input", 4800000, "as given", 0.6, 0.8, 1.0, 0.0},
                                   {"out", 480000, "sqz", 0.59, 0.81, 0.95, 0.0123}};
  const std::string text = sqz::report::stage_table_text(rows, 250);
  CHECK(text ==
        "stage                                bytes  vs input vs AlexNet    top-1    top-5 "
        "agreement       KL\n"
        "input                              4800000      1.0x      50.0x   60.00%   80.00%   "
        "100.00%   0.0000\n"
        "out                                 480000     10.0x     500.0x   59.00%   81.00%    "
        "95.00%   0.0123\n"
        "accuracy on 250 held-out images; agreement and KL against the first row's model\n");
  const std::string md = sqz::report::stage_table_markdown(rows, 0);
  CHECK(md.find("| out | 480000 | 10.0x | 500.0x | 59.00% | 81.00% | 95.00% | 0.0123 | sqz |") !=
        std::string::npos);
  CHECK(md.find("held-out") == std::string::npos);
  rows[1].top1 = -1;
  const auto j = nlohmann::json::parse(
      sqz::report::stage_table_json(rows, 250, {{"output", "\"o.sqz\""}, {"bad", "{x"}}));
  CHECK(j["output"] == "o.sqz");
  CHECK(j["bad"].is_null());
  CHECK(j["images"] == 250);
  CHECK(j["stages"][1]["top1"].is_null());
  CHECK(j["stages"][1]["ratio_vs_input"] == doctest::Approx(10.0));
  CHECK(j["stages"][1]["ratio_vs_alexnet"] == doctest::Approx(500.0));
}

TEST_CASE("folds: K/N parsing and interleaved splits") {
  auto f = P::parse_fold("2/3", "--calib-split");
  REQUIRE(f.is_ok());
  std::vector<std::string> in, out;
  P::split_by_fold({"a", "b", "c", "d", "e"}, *f, &in, &out);
  CHECK(in == std::vector<std::string>{"b", "e"});
  CHECK(out == std::vector<std::string>{"a", "c", "d"});
  for (const char* bad : {"0/2", "3/2", "1/0", "1/2x", "x", "1/1001"}) {
    auto r = P::parse_fold(bad, "--calib-split");
    CHECK_FALSE(r.is_ok());
    if (!r.is_ok()) CHECK(r.status().message().find("--calib-split") == 0);
  }
}

namespace {

// Counts what compress reports; cancels once `cancel_at` tasks have begun (0: never).
struct CountingObserver : P::Observer {
  std::vector<int> stages;
  int tasks = 0, cancel_at = 0;
  int64_t last_done = 0;
  void stage(int index, int count, const std::string&) override {
    CHECK(count == 6);
    stages.push_back(index);
  }
  void task(const std::string&, int64_t) override { ++tasks; }
  void progress(int64_t done) override { last_done = done; }
  bool cancelled() override { return cancel_at > 0 && tasks >= cancel_at; }
};

struct CompressFixture {
  test::TempDir dir;
  std::string onnx = dir.file("m.onnx"), images = dir.file("images");
  CompressFixture() {
    test::write_bytes(onnx, import::export_onnx(test::tiny_squeezenet(8, 31, 3, 0.6)).value());
    test::write_labelled_pngs(dir.path(), 8);
  }
  P::CompressOptions options() const {
    P::CompressOptions o;
    o.model_path = onnx;
    o.calib_dir = images;
    o.calib_fold = P::Fold{1, 2};
    o.quantize.bits = 4;
    o.calibration.steps = 3;
    o.calibration.batch = 2;
    return o;
  }
};

}  // namespace

TEST_CASE("compress: the library call reports six stages, returns the file, writes nothing") {
  CompressFixture f;
  CountingObserver counter;
  auto r = P::compress(f.options(), &counter);
  REQUIRE(r.is_ok());
  CHECK(counter.stages == std::vector<int>{1, 2, 3, 4, 5, 6});
  CHECK(counter.tasks >= 4);  // decoding, calibrating, loading held-out images, measuring x2
  REQUIRE(r->stages.size() == 2);
  CHECK(r->holdout_images == 4);
  CHECK(r->stages[1].bytes == static_cast<int64_t>(r->bytes.size()));
  auto back = format::decode_sqz(r->bytes);
  REQUIRE(back.is_ok());
  for (const Layer& l : back->model.layers)
    if (l.op == OpKind::kConvolution) CHECK(l.quant.bits == 4);
  CHECK_FALSE(std::filesystem::exists(f.dir.file("out.sqz")));
  // The same call without an observer gives the same bytes (deterministic for a seed).
  auto quiet = P::compress(f.options(), nullptr);
  REQUIRE(quiet.is_ok());
  CHECK(quiet->bytes == r->bytes);
}

TEST_CASE("compress: cancellation and bad options are errors, not crashes") {
  CompressFixture f;
  CountingObserver cancelling;
  cancelling.cancel_at = 2;  // during calibration, the second task
  auto r = P::compress(f.options(), &cancelling);
  REQUIRE_FALSE(r.is_ok());
  CHECK(r.status().code() == ErrorCode::kInterrupted);
  CHECK(cancelling.stages.size() < 6);
  P::CompressOptions o = f.options();
  o.widths = {5, 4};
  CHECK(P::compress(o, nullptr).status().code() == ErrorCode::kInvalidArgument);
  o = f.options();
  o.quantize.bits = 9;
  CHECK(P::compress(o, nullptr).status().code() == ErrorCode::kInvalidArgument);
  o = f.options();
  o.calib_dir.clear();
  CHECK(P::compress(o, nullptr).status().message() == "`calib_split` needs `calib`");
  o = f.options();
  o.model_path = f.dir.file("missing.onnx");
  CHECK(P::compress(o, nullptr).status().message().find("missing.onnx") != std::string::npos);
}

TEST_CASE("check_option_dependencies: an option is refused where it would be ignored") {
  // Each case by hand: the option, and the options where it means something.
  struct Case {
    const char* option;
    std::function<void(P::CompressOptions*)> meet;
  };
  const auto calib = [](P::CompressOptions* o) { o->calib_dir = "images"; };
  const auto train = [](P::CompressOptions* o) { o->train_dir = "labelled"; };
  const std::vector<Case> cases = {
      {"widths", [](P::CompressOptions* o) { o->target_bytes = 1000; }},
      {"probe_images", [](P::CompressOptions* o) { o->target_bytes = 1000; }},
      {"block_images", [](P::CompressOptions* o) { o->blocks.steps = 10; }},
      {"block_lr", [](P::CompressOptions* o) { o->blocks.steps = 10; }},
      {"calib_steps", calib},
      {"calib_lr", calib},
      {"temperature", calib},
      {"no_augment", calib},
      {"augment", calib},
      {"moment_images", calib},
      {"code_pairs", calib},
      {"code_descent", calib},
      {"rate_weight", calib},
      {"codebook_refit", calib},
      {"block_steps", calib},
      {"codes", calib},
      {"dropout", train},
      {"no_mirror", train},
      {"mirror", train},
      {"schedule", train},
      {"train_label_file", train},
      {"quantize_at_once", train},
      {"labels", calib},
      {"labels", [](P::CompressOptions* o) { o->holdout_dir = "held"; }},
      {"granularity", [](P::CompressOptions* o) { o->pruning.density = 0.5; }},
      {"granularity", [](P::CompressOptions* o) { o->pruning.layer_density["conv1"] = 0.5; }},
      {"retrain_steps",
       [](P::CompressOptions* o) {
         o->pruning.density = 0.5;
         o->calib_dir = "images";
       }},
      // 0 is their default, "off": given as 0 they would be ignored too.
      {"density", [](P::CompressOptions* o) { o->pruning.density = 0.25; }},
      {"target_bytes", [](P::CompressOptions* o) { o->target_bytes = 400000; }},
  };
  for (const Case& c : cases) {
    INFO(c.option);
    P::CompressOptions o;
    const Status refused = P::check_option_dependencies(o, {"threads", c.option, "seed"});
    CHECK(refused.code() == ErrorCode::kInvalidArgument);
    CHECK(refused.message().find(std::string("`") + c.option + "` needs") != std::string::npos);
    c.meet(&o);
    CHECK(P::check_option_dependencies(o, {"threads", c.option, "seed"}).is_ok());
  }
  // Half of what it needs is not enough; nearest codes are what no images give anyway.
  P::CompressOptions o;
  o.pruning.density = 0.5;
  CHECK_FALSE(P::check_option_dependencies(o, {"retrain_steps"}).is_ok());
  o.error_compensation = false;
  CHECK(P::check_option_dependencies(o, {"codes"}).is_ok());
  CHECK(P::check_option_dependencies(P::CompressOptions{}, {"bits", "seed", "calib"}).is_ok());
}

namespace {

P::ModelPoint point_with(int64_t target, int64_t bytes, std::vector<int8_t> hits,
                         std::vector<int8_t> reference) {
  P::ModelPoint p;
  p.path = "m" + std::to_string(bytes) + ".sqz";
  p.bytes = bytes;
  p.target_bytes = target;
  p.images = static_cast<int64_t>(hits.size());
  p.hits = std::move(hits);
  p.reference_hits = std::move(reference);
  p.agreement = 0.5;
  p.mean_kl = 0.1;
  return p;
}

}  // namespace

TEST_CASE("pool_points: folds of one target pooled pair by pair, with a bootstrap interval") {
  // Fold 1: top-1 (model, reference) per image (1,1) (0,1) (1,0) (0,1): delta -1 of 4.
  // Fold 2: (1,1) (1,1) (0,0) (1,0) (-1 = unlabelled, skipped): delta +1 of 4.
  // Top-5 is right everywhere except fold 2's last labelled image for the reference.
  std::vector<P::ModelPoint> points = {
      point_with(1000, 990, {3, 2, 3, 2}, {3, 3, 2, 3}), point_with(2000, 1990, {3}, {3}),
      point_with(1000, 995, {3, 3, 2, 3, -1}, {3, 3, 2, 0, 3}),
      point_with(0, 500, {3}, {0}),  // no target: not pooled
  };
  points[2].agreement = 1.0, points[2].images = 4;
  const auto pooled = P::pool_points(points, 500, 7);
  REQUIRE(pooled.size() == 2);
  const P::PooledPoint& g = pooled[0];
  CHECK(g.target_bytes == 1000);
  CHECK(g.points == std::vector<size_t>{0, 2});
  CHECK(g.max_bytes == 995);
  CHECK(g.images == 8);
  CHECK(g.delta_top1 == doctest::Approx(0.0));
  CHECK(g.delta_top5 == doctest::Approx(1.0 / 8));
  CHECK(g.top1_lo < 0);
  CHECK(g.top1_hi > 0);
  CHECK(g.top1_lo >= -1);
  CHECK(g.top5_lo <= g.delta_top5);
  CHECK(g.top5_hi >= g.delta_top5);
  CHECK(g.agreement == doctest::Approx(0.75));  // weighted by images: (0.5 * 4 + 1.0 * 4) / 8
  CHECK(g.mean_kl == doctest::Approx(0.1));
  // One pair: the interval collapses onto it. And the same seed gives the same interval.
  CHECK(pooled[1].target_bytes == 2000);
  CHECK(pooled[1].top1_lo == 0);
  CHECK(pooled[1].top1_hi == 0);
  const auto again = P::pool_points(points, 500, 7);
  CHECK(again[0].top1_lo == g.top1_lo);
  CHECK(again[0].top1_hi == g.top1_hi);
  // A file made another way towards the same target (another recipe) is not one of its folds.
  points[2].recipe = "other settings";
  const auto apart = P::pool_points(points, 500, 7);
  REQUIRE(apart.size() == 3);
  CHECK(apart[0].points == std::vector<size_t>{0});
  CHECK(apart[1].points == std::vector<size_t>{2});
}

TEST_CASE("report chart: pooled points drawn as change against size, with the paper's line") {
  P::ReportData r;
  r.points = {point_with(1000, 990, {3, 2}, {3, 3}), point_with(1000, 995, {3, 3}, {2, 3})};
  r.points[0].top1 = r.points[1].top1 = 0.5;
  r.pooled = P::pool_points(r.points, 100, 1);
  const std::string svg = sqz::report::report_accuracy_svg(r);
  CHECK(svg.find("Δ top-1, pooled over folds") != std::string::npos);
  CHECK(svg.find("paper: 0.47 MB") != std::string::npos);
  CHECK(svg.find("within 1 point") != std::string::npos);
  CHECK(svg.find("<path d=\"M") != std::string::npos);  // error bars
  r.pooled.clear();
  const std::string scatter = sqz::report::report_accuracy_svg(r);
  CHECK(scatter.find("pooled") == std::string::npos);
}

TEST_CASE("forward_batched: many inputs within an activation budget that one pass exceeds") {
  const Model m = test::tiny_squeezenet(2, 19, 4, 0.7);
  std::mt19937 rng(3);
  const int64_t n = 40, in_size = 3 * 19 * 19;
  const std::vector<float> x = test::random_floats(rng, static_cast<size_t>(n * in_size));
  runtime::NetOptions small;
  small.max_activation_bytes = int64_t{1} << 16;  // a few images' worth, not 40
  auto net = runtime::Net::create(m, small);
  REQUIRE(net.is_ok());
  std::vector<float> all;
  CHECK((*net)->forward(x.data(), n, &all).code() == ErrorCode::kLimit);
  REQUIRE(P::forward_batched(**net, x.data(), n, &all, 4).is_ok());
  REQUIRE(all.size() == static_cast<size_t>(n * 4));
  std::vector<float> one;
  for (int64_t i = 0; i < n; i += 13) {
    REQUIRE((*net)->forward(x.data() + i * in_size, 1, &one).is_ok());
    CHECK(std::equal(one.begin(), one.end(), all.begin() + i * 4));
  }
  // A chunk the budget refuses is halved, to the same bits; a NaN is named by its image
  // among all n, not within its pass.
  std::vector<float> halved;
  REQUIRE(P::forward_batched(**net, x.data(), n, &halved, 64).is_ok());
  CHECK(halved == all);
  std::vector<float> bad = x;
  bad[static_cast<size_t>(37 * in_size + 5)] = std::nanf("");
  const Status s = P::forward_batched(**net, bad.data(), n, &halved, 4);
  CHECK(s.message().find("input value 5 of image 37 is NaN") != std::string::npos);
}
