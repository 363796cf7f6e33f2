// Writes a small SqueezeNet-shaped model with fixed pseudo-random weights (ONNX), an image
// to classify (PNG) and its label list: a self-made default for the main job until the
// trained Fashion-MNIST sample exists.
// usage: make_demo_model OUT.onnx OUT.png OUT_labels.txt
#include <png.h>

#include <cstdio>
#include <random>

#include "sqz/core/file_io.h"
#include "sqz/format/exporters.h"

namespace {

sqz::Layer conv(const std::string& name, const std::string& in, int64_t cin, int64_t cout,
                int64_t k, int64_t stride, int64_t pad, std::mt19937& rng) {
  sqz::Layer l;
  l.name = name;
  l.op = sqz::OpKind::kConvolution;
  l.inputs = {in};
  l.output = name;
  l.conv = {cout, k, k, stride, stride, pad, pad, 1, true};
  l.weight.shape = {cout, cin, k, k};
  std::normal_distribution<float> w(0.0f, 0.05f);
  for (int64_t i = 0; i < cout * cin * k * k; ++i) l.weight.data.push_back(w(rng));
  l.bias = {{cout}, std::vector<float>(static_cast<size_t>(cout), 0.01f)};
  return l;
}

sqz::Layer unary(const std::string& name, sqz::OpKind op, const std::string& in) {
  sqz::Layer l;
  l.name = name;
  l.op = op;
  l.inputs = {in};
  l.output = name;
  return l;
}

sqz::Model demo_model() {
  std::mt19937 rng(2016);
  sqz::Model m;
  m.name = "demo-squeezenet";
  m.input = "data";
  m.input_shape = {1, 3, 227, 227};
  m.layers.push_back(conv("conv1", "data", 3, 32, 7, 2, 0, rng));
  m.layers.push_back(unary("relu1", sqz::OpKind::kRelu, "conv1"));
  sqz::Layer pool = unary("pool1", sqz::OpKind::kMaxPool, "relu1");
  pool.pool = {3, 3, 2, 2, 0, 0, false, sqz::PoolRounding::kCeil, true};
  m.layers.push_back(pool);
  m.layers.push_back(conv("fire2/squeeze", "pool1", 32, 8, 1, 1, 0, rng));
  m.layers.push_back(unary("fire2/relu_s", sqz::OpKind::kRelu, "fire2/squeeze"));
  m.layers.push_back(conv("fire2/expand1x1", "fire2/relu_s", 8, 16, 1, 1, 0, rng));
  m.layers.push_back(unary("fire2/relu_e1", sqz::OpKind::kRelu, "fire2/expand1x1"));
  m.layers.push_back(conv("fire2/expand3x3", "fire2/relu_s", 8, 16, 3, 1, 1, rng));
  m.layers.push_back(unary("fire2/relu_e3", sqz::OpKind::kRelu, "fire2/expand3x3"));
  sqz::Layer cat = unary("fire2/concat", sqz::OpKind::kConcat, "fire2/relu_e1");
  cat.inputs.push_back("fire2/relu_e3");
  m.layers.push_back(cat);
  m.layers.push_back(conv("conv_final", "fire2/concat", 32, 10, 1, 1, 0, rng));
  m.layers.push_back(unary("relu_final", sqz::OpKind::kRelu, "conv_final"));
  sqz::Layer gap = unary("pool_final", sqz::OpKind::kAvgPool, "relu_final");
  gap.pool.global = true;
  m.layers.push_back(gap);
  m.output = "pool_final";
  return m;
}

bool write_png(const std::string& path) {
  const int w = 256, h = 256;
  std::vector<uint8_t> rgb(static_cast<size_t>(w) * h * 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      uint8_t* p = &rgb[(static_cast<size_t>(y) * w + x) * 3];
      p[0] = static_cast<uint8_t>(x), p[1] = static_cast<uint8_t>(y),
      p[2] = static_cast<uint8_t>((x ^ y) & 0xFF);
    }
  png_image img{};
  img.version = PNG_IMAGE_VERSION;
  img.width = w;
  img.height = h;
  img.format = PNG_FORMAT_RGB;
  return png_image_write_to_file(&img, path.c_str(), 0, rgb.data(), 0, nullptr) != 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: make_demo_model OUT.onnx OUT.png OUT_labels.txt\n");
    return 2;
  }
  auto onnx = sqz::format::export_onnx(demo_model());
  std::string labels;
  for (int i = 0; i < 10; ++i)
    labels += "c" + std::to_string(i) + " class-" + std::to_string(i) + "\n";
  sqz::Status s = onnx.is_ok() ? sqz::write_file_atomic(argv[1], *onnx, true) : onnx.status();
  if (s.is_ok()) s = sqz::write_file_atomic(argv[3], labels, true);
  if (s.is_ok() && !write_png(argv[2]))
    s = sqz::Status(sqz::ErrorCode::kIo, std::string(argv[2]) + ": cannot write");
  if (!s.is_ok()) {
    std::fprintf(stderr, "make_demo_model: %s\n", s.message().c_str());
    return 1;
  }
  return 0;
}
