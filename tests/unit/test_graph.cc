#include <doctest/doctest.h>

#include "sqz/core/graph.h"
#include "test_util.h"

using namespace sqz;

TEST_CASE("shape inference on a SqueezeNet-shaped graph") {
  Model m = test::tiny_squeezenet(1, 19, 10);
  auto shapes = validate_and_infer(m);
  REQUIRE(shapes.is_ok());
  CHECK(shapes->at("conv1") == Shape{1, 8, 7, 7});
  CHECK(shapes->at("pool1") == Shape{1, 8, 3, 3});
  CHECK(shapes->at("fire/concat") == Shape{1, 12, 3, 3});
  CHECK(shapes->at("conv_final") == Shape{1, 10, 5, 5});  // 1x1 with pad 1 grows the map
  CHECK(shapes->at("pool_final") == Shape{1, 10, 1, 1});
  auto batched = validate_and_infer(m, 4);
  REQUIRE(batched.is_ok());
  CHECK(batched->at("pool_final") == Shape{4, 10, 1, 1});
}

TEST_CASE("Caffe pooling rounds up and drops a window that starts in the padding") {
  CHECK(pooled_size(111, 3, 2, 0, PoolRounding::kCeil) == 55);
  CHECK(pooled_size(112, 3, 2, 0, PoolRounding::kCeil) == 56);
  CHECK(pooled_size(112, 3, 2, 0, PoolRounding::kFloor) == 55);
  CHECK(pooled_size(6, 2, 2, 1, PoolRounding::kCeil) == 4);
  CHECK(pooled_size(5, 2, 2, 1, PoolRounding::kCeil) == 3);  // (3)*2 >= 5+1: last window dropped
}

TEST_CASE("validation errors name the problem") {
  SUBCASE("unknown blob") {
    Model m = test::tiny_squeezenet(1);
    m.layers[3].inputs = {"nowhere"};
    auto r = validate_and_infer(m);
    REQUIRE_FALSE(r.is_ok());
    CHECK(r.status().code() == ErrorCode::kNotFound);
    CHECK(r.status().message().find("nowhere") != std::string::npos);
  }
  SUBCASE("cycle") {
    Model m = test::tiny_squeezenet(1);
    m.layers[0].inputs = {"relu1"};  // conv1 <- relu1 <- conv1
    auto r = validate_and_infer(m);
    REQUIRE_FALSE(r.is_ok());
    CHECK(r.status().message().find("cycle") != std::string::npos);
  }
  SUBCASE("channel mismatch in a weight") {
    Model m = test::tiny_squeezenet(1);
    Layer* l = m.find_layer("fire/e1");
    l->weight.shape = {6, 5, 1, 1};
    l->weight.data.resize(30);
    auto r = validate_and_infer(m);
    REQUIRE_FALSE(r.is_ok());
    CHECK(r.status().code() == ErrorCode::kShapeMismatch);
    CHECK(r.status().message().find("fire/e1") != std::string::npos);
  }
  SUBCASE("concat of mismatched maps") {
    Model m = test::tiny_squeezenet(1);
    m.find_layer("fire/concat")->inputs = {"fire/relu_e1", "relu1"};
    auto r = validate_and_infer(m);
    REQUIRE_FALSE(r.is_ok());
    CHECK(r.status().code() == ErrorCode::kShapeMismatch);
  }
  SUBCASE("blob produced twice") {
    Model m = test::tiny_squeezenet(1);
    m.layers[1].output = "conv1";
    CHECK_FALSE(validate_and_infer(m).is_ok());
  }
}

TEST_CASE("a mask or codes that disagree with their layer are refused at the first such weight") {
  // The checks run over whole masks and code lists at once (ORs 8 bytes at a time), then seek
  // the first failing position: every position is tried, in the first 8-byte word and after it.
  auto coded = [] {  // fire/e3 as a .sqz holds it: a mask, 3-bit codes, no float weights
    Model m = test::tiny_squeezenet(1);
    Layer* l = m.find_layer("fire/e3");
    l->mask.assign(l->weight.data.size(), 0);
    l->quant.bits = 3;
    l->quant.codebook = {-0.5f, -0.25f, 0.25f, 0.5f, 0.75f};
    for (size_t i = 0; i < l->mask.size(); i += 2) {
      l->mask[i] = 1;
      l->quant.codes.push_back(static_cast<uint8_t>(i % 5));
    }
    l->weight.data.clear();
    return m;
  };
  Model valid = coded();
  REQUIRE(validate_and_infer(valid).is_ok());
  const size_t codes = valid.find_layer("fire/e3")->quant.codes.size();
  CHECK(codes > 9);
  CHECK(valid.find_layer("fire/e3")->stored_count() == static_cast<int64_t>(codes));
  for (size_t k : {size_t{0}, size_t{3}, size_t{8}, codes - 1}) {
    for (uint8_t bad : {uint8_t{5}, uint8_t{7}, uint8_t{255}}) {
      Model m = coded();
      m.find_layer("fire/e3")->quant.codes[k] = bad;
      auto r = validate_and_infer(m);
      REQUIRE_FALSE(r.is_ok());
      CHECK(r.status().message().find("layer 'fire/e3' code " + std::to_string(k) +
                                      " is past its codebook") != std::string::npos);
    }
  }
  const size_t weights = valid.find_layer("fire/e3")->mask.size();
  for (size_t i : {size_t{1}, size_t{6}, size_t{9}, weights - 1}) {
    Model m = coded();
    m.find_layer("fire/e3")->mask[i] = 2;  // neither kept nor pruned
    CHECK(m.find_layer("fire/e3")->stored_count() ==
          static_cast<int64_t>(codes) - (i % 2 == 0));  // the ones counted, not the 2
    auto r = validate_and_infer(m);
    REQUIRE_FALSE(r.is_ok());
    CHECK(r.status().message().find("pruned position " + std::to_string(i)) != std::string::npos);
  }
  // Float weights with a mask: a non-zero weight where the mask prunes.
  Model m = test::tiny_squeezenet(1);
  m.find_layer("fire/e3")->mask.assign(m.find_layer("fire/e3")->weight.data.size(), 1);
  REQUIRE(validate_and_infer(m).is_ok());  // (may reorder the layers: found again below)
  m.find_layer("fire/e3")->mask[11] = 0;
  m.find_layer("fire/e3")->weight.data[11] = 0.5f;
  auto r = validate_and_infer(m);
  REQUIRE_FALSE(r.is_ok());
  CHECK(r.status().message().find("pruned position 11") != std::string::npos);
}

TEST_CASE("layers out of order are sorted, a valid order is kept") {
  Model m = test::tiny_squeezenet(1);
  std::vector<std::string> names;
  for (const Layer& l : m.layers) names.push_back(l.name);
  std::swap(m.layers[0], m.layers[5]);
  REQUIRE(validate_and_infer(m).is_ok());
  for (size_t i = 0; i < m.layers.size(); ++i) {
    for (const std::string& in : m.layers[i].inputs) {
      bool produced_before = in == m.input;
      for (size_t j = 0; j < i; ++j) produced_before |= m.layers[j].output == in;
      CHECK(produced_before);
    }
  }
  Model kept = test::tiny_squeezenet(1);
  REQUIRE(validate_and_infer(kept).is_ok());
  for (size_t i = 0; i < kept.layers.size(); ++i) CHECK(kept.layers[i].name == names[i]);
}

TEST_CASE("option names in library messages are spelled by the front end") {
  auto flag = [](const std::string& name) { return "--" + name; };
  CHECK(spell_option_names("`calib_split` needs `calib`", +flag) == "--calib_split needs --calib");
  // Not an option: paths, empty or unclosed backticks stay as they are.
  CHECK(spell_option_names("`a.sqz`: `` and `bits", +flag) == "`a.sqz`: `` and `bits");
  CHECK(spell_option_names("see `model.sqz` or `bits`", +flag) == "see `model.sqz` or --bits");
  CHECK(spell_option_names("no options", +flag) == "no options");
}
