#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "sqz/format/sqz_file.h"
#include "sqz/prune/prune.h"
#include "sqz/quantize/quantize.h"
#include "test_util.h"

using namespace sqz;
using namespace sqz::prune;

namespace {

std::vector<Layer*> convs(Model& m) {
  std::vector<Layer*> out;
  for (Layer& l : m.layers)
    if (l.op == OpKind::kConvolution) out.push_back(&l);
  return out;
}

struct CountingHook : RetrainHook {
  int calls = 0;
  Status retrain(Model& m, int, int, bool) override {
    ++calls;
    for (Layer& l : m.layers)  // "retraining" that touches every weight, pruned ones too
      for (float& w : l.weight.data) w += 0.001f;
    return Status::ok();
  }
};

}  // namespace

TEST_CASE("per-layer density: exact counts, kept magnitudes dominate, biases untouched") {
  for (double d : {1.0, 0.9, 0.5, 0.25, 0.01}) {
    Model m = test::tiny_squeezenet(21, 19, 10);
    const Model original = m;
    PruneOptions o;
    o.density = d;
    auto r = prune_once(m, o);
    REQUIRE(r.is_ok());
    for (size_t i = 0; i < m.layers.size(); ++i) {
      const Layer &l = m.layers[i], &orig = original.layers[i];
      if (l.op != OpKind::kConvolution) continue;
      INFO("layer " << l.name << " density " << d);
      const int64_t kept = l.stored_count();
      CHECK(std::llabs(kept - std::llround(d * l.weight.numel())) <= 1);
      float min_kept = INFINITY, max_pruned = 0;
      for (size_t k = 0; k < l.mask.size(); ++k) {
        if (l.mask[k]) {
          min_kept = std::min(min_kept, std::fabs(orig.weight.data[k]));
          CHECK(l.weight.data[k] == orig.weight.data[k]);
        } else {
          max_pruned = std::max(max_pruned, std::fabs(orig.weight.data[k]));
          CHECK(l.weight.data[k] == 0.0f);
        }
      }
      CHECK(min_kept >= max_pruned);
      CHECK(l.bias.data == orig.bias.data);
    }
    Model again = m;
    REQUIRE(prune_once(again, o).is_ok());  // idempotent
    for (size_t i = 0; i < m.layers.size(); ++i) {
      CHECK(again.layers[i].weight.data == m.layers[i].weight.data);
      CHECK(again.layers[i].mask == m.layers[i].mask);
    }
  }
}

TEST_CASE("quality x std threshold and one global threshold") {
  Model m = test::tiny_squeezenet(22, 19, 10);
  const Model original = m;
  PruneOptions q;
  q.criterion = Criterion::kQuality;
  q.quality = 0.7;
  REQUIRE(prune_once(m, q).is_ok());
  for (size_t i = 0; i < m.layers.size(); ++i) {
    const Layer &l = m.layers[i], &orig = original.layers[i];
    if (l.op != OpKind::kConvolution) continue;
    double sum = 0, sq = 0;
    for (float w : orig.weight.data) sum += w, sq += double{w} * w;
    const double n = static_cast<double>(orig.weight.data.size());
    const double threshold = 0.7 * std::sqrt(sq / n - (sum / n) * (sum / n));
    for (size_t k = 0; k < l.mask.size(); ++k)
      CHECK(l.mask[k] == (std::fabs(orig.weight.data[k]) >= threshold));
  }
  Model g = test::tiny_squeezenet(23, 19, 10);
  const Model gorig = g;
  PruneOptions o;
  o.criterion = Criterion::kGlobalDensity;
  o.density = 0.3;
  o.layer_density["conv1"] = 1.0;  // kept dense, outside the global pool
  REQUIRE(prune_once(g, o).is_ok());
  float min_kept = INFINITY, max_pruned = 0;
  int64_t kept = 0, total = 0;
  for (size_t i = 0; i < g.layers.size(); ++i) {
    const Layer& l = g.layers[i];
    if (l.op != OpKind::kConvolution) continue;
    if (l.name == "conv1") {
      CHECK(l.stored_count() == l.weight.numel());
      continue;
    }
    kept += l.stored_count();
    total += l.weight.numel();
    for (size_t k = 0; k < l.mask.size(); ++k) {
      const float a = std::fabs(gorig.layers[i].weight.data[k]);
      if (l.mask[k])
        min_kept = std::min(min_kept, a);
      else
        max_pruned = std::max(max_pruned, a);
    }
  }
  CHECK(min_kept >= max_pruned);
  CHECK(std::llabs(kept - std::llround(0.3 * total)) <= 1);
}

TEST_CASE("kernel granularity: whole kernels by RMS in k x k layers, weights in 1x1 layers") {
  const Model original = test::tiny_squeezenet(24, 19, 10);
  Model by_weight = original, by_kernel = original;
  PruneOptions o;
  o.density = 0.4;
  REQUIRE(prune_once(by_weight, o).is_ok());
  o.granularity = Granularity::kKernel;
  REQUIRE(prune_once(by_kernel, o).is_ok());
  int kernel_layers = 0;
  for (size_t i = 0; i < original.layers.size(); ++i) {
    const Layer &l = by_kernel.layers[i], &orig = original.layers[i];
    if (l.op != OpKind::kConvolution) continue;
    INFO("layer " << l.name);
    const int64_t window = l.conv.kernel_h * l.conv.kernel_w;
    if (window == 1) {  // unchanged from per-weight pruning
      CHECK(l.mask == by_weight.layers[i].mask);
      continue;
    }
    ++kernel_layers;
    const int64_t kernels = l.weight.numel() / window;
    int64_t kept = 0;
    double min_kept = INFINITY, max_pruned = 0;
    for (int64_t k = 0; k < kernels; ++k) {
      const auto first = l.mask.begin() + k * window;
      const auto on = std::count(first, first + window, uint8_t{1});
      CHECK((on == 0 || on == window));
      double sq = 0;
      for (int64_t j = k * window; j < (k + 1) * window; ++j)
        sq += double{orig.weight.data[j]} * orig.weight.data[j];
      const double rms = std::sqrt(sq / window);
      if (on) {
        ++kept;
        min_kept = std::min(min_kept, rms);
      } else {
        max_pruned = std::max(max_pruned, rms);
      }
    }
    CHECK(kept == std::llround(0.4 * kernels));
    CHECK(min_kept >= max_pruned);
  }
  CHECK(kernel_layers >= 2);

  // A later kernel step never brings back weights that an earlier step pruned.
  Model twice = by_weight;
  o.density = 0.3;
  REQUIRE(prune_once(twice, o).is_ok());
  for (size_t i = 0; i < twice.layers.size(); ++i)
    for (size_t k = 0; k < twice.layers[i].mask.size(); ++k)
      if (twice.layers[i].mask[k]) CHECK(by_weight.layers[i].mask[k] == 1);

  // Globally, whole kernels compete with single weights and the total lands within a kernel.
  Model global = original;
  o.criterion = Criterion::kGlobalDensity;
  o.density = 0.25;
  REQUIRE(prune_once(global, o).is_ok());
  int64_t kept = 0, total = 0;
  for (const Layer* l : convs(global)) kept += l->stored_count(), total += l->weight.numel();
  CHECK(kept >= std::llround(0.25 * total));
  CHECK(kept < std::llround(0.25 * total) + 49);  // the largest window is 7x7
}

TEST_CASE("check_option_dependencies: a schedule needs more than one step") {
  prune::PruneOptions o;
  const Status s = prune::check_option_dependencies(o, {"density", "schedule"});
  CHECK(s.code() == ErrorCode::kInvalidArgument);
  CHECK(s.message().find("`schedule`") == 0);
  o.steps = 3;
  CHECK(prune::check_option_dependencies(o, {"density", "schedule"}).is_ok());
  CHECK(prune::check_option_dependencies(prune::PruneOptions{}, {"density", "steps"}).is_ok());
}

TEST_CASE("schedules reach the target monotonically; hooks run and masks are enforced") {
  for (Schedule s : {Schedule::kLinear, Schedule::kCubic}) {
    double prev = 1.0;
    for (int step = 1; step <= 5; ++step) {
      const double d = scheduled_density(1.0, 0.2, step, 5, s);
      CHECK(d <= prev);
      prev = d;
    }
    CHECK(prev == doctest::Approx(0.2));
  }
  CHECK(scheduled_density(1.0, 0.2, 1, 5, Schedule::kCubic) <
        scheduled_density(1.0, 0.2, 1, 5, Schedule::kLinear));  // cubic prunes early
  Model m = test::tiny_squeezenet(24, 19, 10);
  PruneOptions o;
  o.density = 0.3;
  o.steps = 4;
  CountingHook hook;
  auto steps = prune_iteratively(m, o, &hook);
  REQUIRE(steps.is_ok());
  CHECK(hook.calls == 4);
  CHECK(steps->size() == 4);
  CHECK(steps->back().mask_violations_reset > 0);
  for (Layer* l : convs(m)) {
    CHECK(std::llabs(l->stored_count() - std::llround(0.3 * l->weight.numel())) <= 1);
    for (size_t k = 0; k < l->mask.size(); ++k)
      if (!l->mask[k]) CHECK(l->weight.data[k] == 0.0f);
  }
}

TEST_CASE("masks survive quantization and the .sqz file") {
  Model m = test::tiny_squeezenet(25, 19, 10);
  PruneOptions o;
  o.density = 0.4;
  REQUIRE(prune_once(m, o).is_ok());
  std::vector<std::vector<uint8_t>> masks;
  for (Layer* l : convs(m)) masks.push_back(l->mask);
  quantize::QuantizeOptions q;
  q.bits = 3;
  REQUIRE(quantize::quantize_model(m, q).is_ok());
  auto cs = convs(m);
  for (size_t i = 0; i < cs.size(); ++i) CHECK(cs[i]->mask == masks[i]);
  // Retraining after quantization: pruned stay zero, weights re-tie to centroids.
  for (Layer* l : cs)
    for (float& w : l->weight.data) w += 0.01f;
  for (Layer* l : cs) CHECK(enforce_mask(*l) > 0);
  REQUIRE(validate_and_infer(m).is_ok());  // codes agree with weights again
  std::string bytes;
  REQUIRE(format::encode_sqz(m, {}, &bytes).is_ok());
  auto back = format::decode_sqz(bytes);
  REQUIRE(back.is_ok());
  size_t k = 0;
  for (const Layer& l : back->model.layers)
    if (l.op == OpKind::kConvolution) CHECK(l.mask == masks[k++]);
}

TEST_CASE("bad pruning configuration is refused") {
  Model m = test::tiny_squeezenet(1);
  PruneOptions o;
  for (double d : {0.0, -0.5, 1.5, double{NAN}}) {
    o.density = d;
    CHECK(check_options(m, o).message().find("outside (0, 1]") != std::string::npos);
  }
  o.density = 0.5;
  o.layer_density["convX"] = 0.5;
  CHECK(check_options(m, o).message().find("'convX'") != std::string::npos);
  o.layer_density = {{"conv1", 2.0}};
  CHECK(check_options(m, o).message().find("'conv1'") != std::string::npos);
  o.layer_density = {};
  o.steps = 0;
  CHECK_FALSE(check_options(m, o).is_ok());
  Model before = m;
  o.density = 0.0;
  o.steps = 1;
  CHECK_FALSE(prune_once(m, o).is_ok());
  CHECK(m.layers[0].weight.data == before.layers[0].weight.data);  // untouched on error
}
