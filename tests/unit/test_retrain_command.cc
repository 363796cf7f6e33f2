// The retraining hooks that run a user's command (pipeline/retrain_command.h): the centroid
// stage's read-back (copy_trained_centroids) on hand-made cases, and the command plumbing.
#include <doctest/doctest.h>

#include <algorithm>

#include "sqz/pipeline/retrain_command.h"
#include "sqz/prune/prune.h"
#include "sqz/quantize/quantize.h"
#include "test_util.h"

using namespace sqz;

namespace {

// A tiny SqueezeNet pruned to half and weight-shared at 2 bits (codes and masks set).
Model shared_model() {
  Model m = test::tiny_squeezenet(5);
  prune::PruneOptions p;
  p.criterion = prune::Criterion::kGlobalDensity;
  p.density = 0.5;
  REQUIRE(prune::prune_once(m, p).is_ok());
  quantize::QuantizeOptions q;
  q.bits = 2;
  REQUIRE(quantize::quantize_model(m, q).is_ok());
  return m;
}

template <typename M>  // Model or const Model
auto& first_shared(M& m) {
  for (auto& l : m.layers)
    if (l.quant.active()) return l;
  FAIL("no weight-shared layer");
  return m.layers[0];
}

// Every stored weight of l moved to its code's value in `book`.
void set_centroids(Layer& l, const std::vector<float>& book) {
  for (size_t i = 0, k = 0; i < l.weight.data.size(); ++i)
    if (l.mask.empty() || l.mask[i]) l.weight.data[i] = book[l.quant.codes[k++]];
}

}  // namespace

TEST_CASE("the centroid stage reads back new centroids and keeps every weight's cluster") {
  Model model = shared_model();
  Model trained = model;
  Layer& t = first_shared(trained);
  const std::vector<uint8_t> codes = first_shared(model).quant.codes;
  std::vector<float> book = t.quant.codebook;
  REQUIRE(book.size() >= 2);
  std::reverse(book.begin(), book.end());  // the order changes: codes are renumbered
  for (float& c : book) c *= 1.5f;
  set_centroids(t, book);
  t.bias.data[0] += 0.25f;
  REQUIRE(pipeline::copy_trained_centroids(trained, model, "trained.onnx").is_ok());
  const Layer& l = first_shared(model);
  CHECK(std::is_sorted(l.quant.codebook.begin(), l.quant.codebook.end()));
  for (size_t k = 0; k < codes.size(); ++k)  // same cluster, new number, new value
    CHECK(l.quant.codebook[l.quant.codes[k]] == book[codes[k]]);
  CHECK(l.bias.data[0] == t.bias.data[0]);
  for (size_t i = 0, k = 0; i < l.weight.data.size(); ++i)
    if (l.mask[i]) CHECK(l.weight.data[i] == l.quant.codebook[l.quant.codes[k++]]);
    else CHECK(l.weight.data[i] == 0.0f);
}

TEST_CASE("the centroid stage refuses trained weights that left their centroid or mask") {
  const Model model = shared_model();
  auto refused = [&](auto change, const char* words) {
    Model trained = model, target = model;
    change(first_shared(trained));
    const Status s = pipeline::copy_trained_centroids(trained, target, "trained.onnx");
    CHECK(s.code() == ErrorCode::kInvalidArgument);
    CHECK(s.message().find(words) != std::string::npos);
    CHECK(first_shared(target).quant.codebook == first_shared(model).quant.codebook);  // unchanged
  };
  refused([](Layer& l) {  // one weight of a cluster moved alone
    for (size_t i = 0; i < l.mask.size(); ++i)
      if (l.mask[i]) { l.weight.data[i] += 0.01f; break; }
  }, "differ");
  refused([](Layer& l) {
    for (size_t i = 0; i < l.mask.size(); ++i)
      if (!l.mask[i]) { l.weight.data[i] = 0.5f; break; }
  }, "pruned position");
  refused([](Layer& l) { set_centroids(l, std::vector<float>(l.quant.codebook.size(), 0.0f)); },
          "became 0");
  refused([](Layer& l) { set_centroids(l, std::vector<float>(l.quant.codebook.size(), 0.5f)); },
          "became equal");
}

TEST_CASE("a centroid command gets the model, masks and codes, and its output is read back") {
  Model model = shared_model();
  const Model before = model;
  // The identity: the same centroids come back; the codes file must exist.
  REQUIRE(pipeline::retrain_centroids_by_command(model, "test -s {codes} && test -s {masks} && cp {in} {out}",
                                                 false, {})
              .is_ok());
  CHECK(first_shared(model).quant.codebook == first_shared(before).quant.codebook);
  CHECK(first_shared(model).quant.codes == first_shared(before).quant.codes);
  // The codes file as a model: code indices (-1 pruned) are no centroids.
  const Status s = pipeline::retrain_centroids_by_command(model, "cp {codes} {out}", false, {});
  CHECK(s.code() == ErrorCode::kInvalidArgument);
  const Status failed = pipeline::retrain_centroids_by_command(model, "exit 3", false, {});
  CHECK(failed.code() == ErrorCode::kIo);
  CHECK(failed.message().find("exit code 3") != std::string::npos);
}
