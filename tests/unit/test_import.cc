// Importers on small generated files: round trips and every kind of bad input.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "sqz/import/exporters.h"
#include "sqz/import/importers.h"
#include "test_util.h"

using namespace sqz;

namespace {

void check_same_weights(const Model& a, const Model& b) {
  std::vector<const Layer*> ca, cb;
  for (const Layer& l : a.layers)
    if (l.op == OpKind::kConvolution) ca.push_back(&l);
  for (const Layer& l : b.layers)
    if (l.op == OpKind::kConvolution) cb.push_back(&l);
  REQUIRE(ca.size() == cb.size());
  for (size_t i = 0; i < ca.size(); ++i) {
    INFO("layer " << ca[i]->name);
    CHECK(ca[i]->weight.shape == cb[i]->weight.shape);
    CHECK(ca[i]->weight.data == cb[i]->weight.data);
    CHECK(ca[i]->bias.data == cb[i]->bias.data);
    CHECK(ca[i]->conv.stride_h == cb[i]->conv.stride_h);
    CHECK(ca[i]->conv.pad_h == cb[i]->conv.pad_h);
  }
}

struct Files {
  test::TempDir dir;
  Model model = test::tiny_squeezenet(11, 19, 10, 0.4);
  std::string onnx = dir.file("m.onnx"), prototxt = dir.file("m.prototxt"),
              caffemodel = dir.file("m.caffemodel"), net = dir.file("m.net");
  Files() {
    // The release layout holds at most 255 distinct non-zero values per layer.
    for (Layer& l : model.layers)
      for (float& w : l.weight.data) w = std::round(w * 32.0f) / 32.0f;
    test::write_bytes(onnx, import::export_onnx(model).value());
    test::write_bytes(prototxt, import::export_caffe_prototxt(model).value());
    test::write_bytes(caffemodel, import::export_caffemodel(model).value());
    test::write_bytes(net, test::encode_release_net(model));
  }
};

}  // namespace

TEST_CASE("ONNX, Caffe and .net round trips give identical weights") {
  Files f;
  auto onnx = import::import_onnx(f.onnx);
  REQUIRE(onnx.is_ok());
  check_same_weights(f.model, *onnx);
  auto caffe = import::import_caffe(f.prototxt, f.caffemodel);
  REQUIRE(caffe.is_ok());
  check_same_weights(f.model, *caffe);
  auto net = import::import_deep_compression_net(f.prototxt, f.net);
  REQUIRE(net.is_ok());
  check_same_weights(f.model, *net);
  auto by_ext = import::load_model(f.caffemodel);  // finds m.prototxt beside it
  REQUIRE(by_ext.is_ok());
  check_same_weights(f.model, *by_ext);
}

TEST_CASE("bad model files give one clear error naming the file") {
  Files f;
  auto expect_error = [](const Result<Model>& r, const std::string& file, const std::string& what) {
    REQUIRE_FALSE(r.is_ok());
    INFO(r.status().message());
    CHECK(r.status().message().find(file) != std::string::npos);
    CHECK(r.status().message().find(what) != std::string::npos);
    CHECK(r.status().message().find('\n') == std::string::npos);
  };
  SUBCASE("missing file") {
    expect_error(import::load_model(f.dir.file("absent.onnx")), "absent.onnx", "No such file");
  }
  SUBCASE("a network definition beside a model that is not Caffe's is refused, not ignored") {
    expect_error(import::load_model(f.onnx, f.prototxt), f.prototxt,
                 "is for a .caffemodel or .net model, not for " + f.onnx);
    expect_error(import::load_model(f.prototxt, f.prototxt), f.prototxt, "not for");
    REQUIRE(import::load_model(f.net, f.prototxt).is_ok());
  }
  SUBCASE("a PyTorch checkpoint is pointed to ONNX") {
    for (const char* name : {"model.pth", "model.PT"}) {
      test::write_bytes(f.dir.file(name), "PK\x03\x04 a zip of tensors");
      expect_error(import::load_model(f.dir.file(name)), name, "export the model to ONNX first");
    }
  }
  SUBCASE("truncated and garbage ONNX") {
    std::string bytes = test::read_bytes(f.onnx);
    test::write_bytes(f.onnx, bytes.substr(0, bytes.size() / 2));
    expect_error(import::import_onnx(f.onnx), f.onnx, "ONNX");
    test::write_bytes(f.onnx, "this is not a protobuf at all \xff\xff\xff\xff");
    expect_error(import::import_onnx(f.onnx), f.onnx, "ONNX");
  }
  SUBCASE("truncated and garbage caffemodel") {
    std::string bytes = test::read_bytes(f.caffemodel);
    test::write_bytes(f.caffemodel, bytes.substr(0, bytes.size() - 7));
    expect_error(import::import_caffe(f.prototxt, f.caffemodel), f.caffemodel, "Caffe");
    test::write_bytes(f.caffemodel, std::string(100, '\xff'));
    expect_error(import::import_caffe(f.prototxt, f.caffemodel), f.caffemodel, "");
  }
  SUBCASE("truncated and overlong .net") {
    std::string bytes = test::read_bytes(f.net);
    test::write_bytes(f.net, bytes.substr(0, bytes.size() - 1));
    expect_error(import::import_deep_compression_net(f.prototxt, f.net), f.net, "truncated");
    test::write_bytes(f.net, bytes + "xx");
    expect_error(import::import_deep_compression_net(f.prototxt, f.net), f.net, "trailing");
    test::write_bytes(f.net, bytes.substr(0, 2));
    expect_error(import::import_deep_compression_net(f.prototxt, f.net), f.net, "header");
  }
  SUBCASE("prototxt that does not parse") {
    test::write_bytes(f.prototxt, "layer { name: \"x\" type: ");
    expect_error(import::import_caffe(f.prototxt, f.caffemodel), f.prototxt, "line 1");
  }
  SUBCASE("weight shape that does not match the prototxt") {
    std::string text = test::read_bytes(f.prototxt);
    const std::string from = "num_output: 6";
    REQUIRE(text.find(from) != std::string::npos);
    text.replace(text.find(from), from.size(), "num_output: 5");
    test::write_bytes(f.prototxt, text);
    expect_error(import::import_caffe(f.prototxt, f.caffemodel), f.caffemodel, "shape");
  }
  SUBCASE("unsupported operator is named") {
    std::string text = test::read_bytes(f.prototxt);
    const std::string from = "type: \"ReLU\"";
    text.replace(text.find(from), from.size(), "type: \"LRN\"");
    test::write_bytes(f.prototxt, text);
    expect_error(import::import_caffe_prototxt(f.prototxt), f.prototxt, "'LRN'");
  }
}

TEST_CASE("fuzzer regressions are clean errors") {
  // An ONNX model whose dimensions overflow int64 when multiplied (found by fuzz_onnx).
  const std::string dir = std::string(SQZ_SOURCE_DIR) + "/tests/fuzz/regressions/";
  auto r = import::import_onnx(dir + "onnx-dims-overflow.onnx");
  CHECK_FALSE(r.is_ok());
  CHECK(shape_numel({int64_t{1} << 40, int64_t{1} << 40}) == std::numeric_limits<int64_t>::max());
}

// The 0.1 header and names stay usable (sqz/format/importers.h, sqz::format::load_model):
// they name the same functions, or this does not compile.
#include "sqz/format/exporters.h"
#include "sqz/format/importers.h"
[[maybe_unused]] constexpr auto* kLoadModel01 = &sqz::format::load_model;
[[maybe_unused]] constexpr auto* kExportOnnx01 = &sqz::format::export_onnx;
