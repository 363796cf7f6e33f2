// Writes small seed inputs for every fuzz target into DIR/<target>/ (generated, never from
// ../shared). usage: make_seeds DIR
#include <algorithm>
#include <filesystem>
#include <string>

#include "hostile_util.h"
#include "sqz/core/file_io.h"
#include "sqz/import/exporters.h"
#include "sqz/format/sqz_file.h"
#include "sqz/huffman/huffman.h"
#include "sqz/prune/prune.h"
#include "sqz/quantize/quantize.h"
#include "test_util.h"

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  const std::string dir = argv[1];
  auto put = [&](const std::string& target, const std::string& name, const std::string& bytes) {
    std::filesystem::create_directories(dir + "/" + target);
    (void)sqz::write_file_atomic(dir + "/" + target + "/" + name, bytes, true);
  };
  // The fuzz prototxt's network (3x9x9 -> conv 4@3x3/2 -> pool -> conv 2@1x1 pad 1 -> gap).
  sqz::Model m;
  m.name = "f";
  m.input = "data";
  m.input_shape = {1, 3, 9, 9};
  auto conv = [](const std::string& name, const std::string& in, int64_t cin, int64_t cout,
                 int64_t k, int64_t stride, int64_t pad) {
    sqz::Layer l = sqz::make_conv(name, in, cin, cout, k, stride, pad);
    for (size_t i = 0; i < l.weight.data.size(); ++i)
      l.weight.data[i] = i % 3 == 0 ? 0.0f : 0.25f * (i % 5);
    std::fill(l.bias.data.begin(), l.bias.data.end(), 0.5f);
    return l;
  };
  m.layers.push_back(conv("c1", "data", 3, 4, 3, 2, 0));
  sqz::Layer relu = sqz::make_layer(sqz::OpKind::kRelu, "r1", "c1");
  relu.output = "c1@r1";  // the name the Caffe importer gives an in-place top
  m.layers.push_back(relu);
  sqz::Layer pool = sqz::make_layer(sqz::OpKind::kMaxPool, "p1", "c1@r1");
  pool.pool = {2, 2, 2, 2, 0, 0, false, sqz::PoolRounding::kCeil, true};
  m.layers.push_back(pool);
  m.layers.push_back(conv("c2", "p1", 4, 2, 1, 1, 1));
  sqz::Layer gap = sqz::make_layer(sqz::OpKind::kAvgPool, "g", "c2");
  gap.pool.global = true;
  m.layers.push_back(gap);
  put("onnx", "tiny.onnx", sqz::import::export_onnx(m).value());
  put("caffemodel", "tiny.caffemodel", sqz::import::export_caffemodel(m).value());
  put("prototxt", "tiny.prototxt", sqz::import::export_caffe_prototxt(m).value());
  put("net", "tiny.net", sqz::test::encode_release_net(m));
  sqz::Model q = m;
  for (sqz::Layer& l : q.layers)
    if (l.op == sqz::OpKind::kConvolution) (void)sqz::quantize::adopt_existing_values(l);
  std::string sqz_bytes;
  (void)sqz::format::encode_sqz(q, {}, &sqz_bytes);
  put("sqz", "tiny.sqz", sqz_bytes);
  std::string dense_bytes;
  (void)sqz::format::encode_sqz(sqz::test::tiny_squeezenet(3, 19, 10, 0.3), {}, &dense_bytes);
  put("sqz", "sparse_f32.sqz", dense_bytes);
  // Format 1.2: whole-kernel positions and 8-bit biases.
  sqz::Model kernels = sqz::test::tiny_squeezenet(4, 19, 10);
  sqz::prune::PruneOptions po;
  po.density = 0.3;
  po.granularity = sqz::prune::Granularity::kKernel;
  (void)sqz::prune::prune_once(kernels, po);
  sqz::quantize::QuantizeOptions qo;
  qo.bits = 3;
  (void)sqz::quantize::quantize_model(kernels, qo);
  sqz::format::SqzEncodeOptions eo;
  eo.int8_biases = true;
  std::string kernel_bytes;
  (void)sqz::format::encode_sqz(kernels, eo, &kernel_bytes);
  put("sqz", "kernels_int8.sqz", kernel_bytes);
  // fuzz_run: the valid files above, and networks that reach the runtime's other paths (the
  // size-keeping SpMM's panels on planes wider than a panel, a fused bypass, a 3x3 stem).
  put("run", "tiny.sqz", sqz_bytes);
  put("run", "sparse_f32.sqz", dense_bytes);
  put("run", "kernels_int8.sqz", kernel_bytes);
  const auto put_run = [&](const std::string& name, sqz::Model model, double density) {
    if (density < 1) {
      sqz::prune::PruneOptions prune;
      prune.density = density;
      (void)sqz::prune::prune_once(model, prune);
    }
    sqz::quantize::QuantizeOptions quantize;
    quantize.bits = 4;
    (void)sqz::quantize::quantize_model(model, quantize);
    std::string bytes;
    if (sqz::format::encode_sqz(model, {}, &bytes).is_ok()) put("run", name, bytes);
  };
  put_run("panels.sqz", sqz::test::tiny_squeezenet(5, 67, 7), 0.4);
  put_run("bypass.sqz", sqz::test::with_bypass(sqz::test::tiny_squeezenet(6, 41, 5), 7), 0.5);
  put_run("stem7x7.sqz", sqz::test::tiny_squeezenet(9, 51, 6), 1.0);
  sqz::Model stem3 = sqz::test::tiny_squeezenet(8, 67, 4);
  sqz::Model donor = sqz::test::tiny_squeezenet(8, 67, 4);
  stem3.layers[0] = sqz::make_conv("conv1", "data", 3, 8, 3, 2, 0);
  for (size_t i = 0; i < stem3.layers[0].weight.data.size(); ++i)
    stem3.layers[0].weight.data[i] = donor.layers[0].weight.data[i % 147];
  put_run("stem3x3.sqz", stem3, 1.0);
  std::vector<uint16_t> symbols;
  for (int i = 0; i < 5000; ++i) symbols.push_back(static_cast<uint16_t>((i * i) % 37));
  put("huffman", "block", std::string("\x03\x4e\x88", 3) + sqz::huffman::encode_block(symbols, 49));
  sqz::test::write_png(dir + "/image/tiny.png", 12, 9, 1);
  // The hostile corpus (checksum-valid mutations, tests/hostile_sqz.cc) and hostile images.
  for (const auto& [name, bytes] : sqz::test::hostile_sqz_files())
    if (bytes.size() < (size_t{1} << 20)) put("sqz", "hostile_" + name + ".sqz", bytes);
  put("image", "progressive.jpg", sqz::test::jpeg_bytes(24, 16, 5, true));
  const std::string baseline = sqz::test::jpeg_bytes(24, 16, 6, false);
  put("image", "baseline.jpg", baseline);
  put("image", "truncated.jpg", baseline.substr(0, baseline.size() / 2));
  put("preprocess", "caffe",
      "resize=square:256 crop=227x227 channels=bgr divisor=1 mean=104,117,123 std=1,1,1");
  put("preprocess", "torchvision",
      "resize=shorter:256 crop=224x224 channels=rgb divisor=255 mean=0.485,0.456,0.406 "
      "std=0.229,0.224,0.225");
  put("preprocess", "grey", "resize=none:28 crop=28x28 channels=grey divisor=255 mean=0 std=1");
  put("label_file", "mixed", "a/x.jpg\t0\nb.png\tn1\n# comment\nc/d.jpeg\tone\r\n");
  put("class_list", "synsets", "n0 zero\nn1 one, uno\nn2 two\n");
  return 0;
}
