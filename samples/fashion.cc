#include "fashion.h"

#include <algorithm>
#include <cmath>

#include "sqz/train/idx.h"

namespace sqz::sample {
namespace {

constexpr float kMean = 0.2860f, kStd = 0.3530f;  // Fashion-MNIST training set statistics

Layer conv(const std::string& name, const std::string& in, int64_t cin, int64_t cout, int64_t k,
           int64_t stride, int64_t pad, std::mt19937_64& rng) {
  Layer l = make_conv(name, in, cin, cout, k, stride, pad);
  std::normal_distribution<float> he(0.0f, std::sqrt(2.0f / static_cast<float>(cin * k * k)));
  for (float& w : l.weight.data) w = he(rng);
  return l;
}

Layer unary(const std::string& name, OpKind op, const std::string& in) {
  return make_layer(op, name, in);
}

void fire(Model& m, const std::string& name, const std::string& in, int64_t cin, int64_t squeeze,
          int64_t expand, std::mt19937_64& rng) {
  m.layers.push_back(conv(name + "/squeeze1x1", in, cin, squeeze, 1, 1, 0, rng));
  m.layers.push_back(unary(name + "/relu_squeeze", OpKind::kRelu, name + "/squeeze1x1"));
  m.layers.push_back(
      conv(name + "/expand1x1", name + "/relu_squeeze", squeeze, expand, 1, 1, 0, rng));
  m.layers.push_back(unary(name + "/relu_expand1x1", OpKind::kRelu, name + "/expand1x1"));
  m.layers.push_back(
      conv(name + "/expand3x3", name + "/relu_squeeze", squeeze, expand, 3, 1, 1, rng));
  m.layers.push_back(unary(name + "/relu_expand3x3", OpKind::kRelu, name + "/expand3x3"));
  Layer cat = unary(name + "/concat", OpKind::kConcat, name + "/relu_expand1x1");
  cat.inputs.push_back(name + "/relu_expand3x3");
  m.layers.push_back(cat);
}

Layer max_pool(const std::string& name, const std::string& in) {
  Layer p = unary(name, OpKind::kMaxPool, in);
  p.pool = {3, 3, 2, 2, 0, 0, false, PoolRounding::kCeil, true};
  return p;
}

}  // namespace

Model fashion_squeezenet(uint64_t seed) {
  std::mt19937_64 rng(seed);
  Model m;
  m.name = "fashion-squeezenet";
  m.input = "data";
  m.input_shape = {1, 1, 28, 28};
  m.layers.push_back(conv("conv1", "data", 1, 48, 3, 1, 1, rng));  // 28x28
  m.layers.push_back(unary("relu_conv1", OpKind::kRelu, "conv1"));
  m.layers.push_back(max_pool("pool1", "relu_conv1"));  // 14x14
  fire(m, "fire2", "pool1", 48, 16, 32, rng);
  fire(m, "fire3", "fire2/concat", 64, 16, 32, rng);
  m.layers.push_back(max_pool("pool3", "fire3/concat"));  // 7x7
  fire(m, "fire4", "pool3", 64, 32, 96, rng);
  fire(m, "fire5", "fire4/concat", 192, 32, 128, rng);
  m.layers.push_back(unary("drop5", OpKind::kDropout, "fire5/concat"));
  m.layers.push_back(conv("conv_final", "drop5", 256, 10, 1, 1, 0, rng));
  m.layers.push_back(unary("relu_final", OpKind::kRelu, "conv_final"));
  Layer gap = unary("pool_final", OpKind::kAvgPool, "relu_final");
  gap.pool.global = true;
  m.layers.push_back(gap);
  m.output = "pool_final";
  return m;
}

Result<Split> load_split(const std::string& dir, const std::string& split) {
  SQZ_ASSIGN_OR_RETURN(train::Dataset d, train::read_fashion_mnist(dir, split));
  SQZ_RETURN_ERROR_IF(d.images.rows != 28 || d.images.cols != 28, ErrorCode::kCorrupt,
                      dir + ": Fashion-MNIST images are 28x28 (package dataset-fashion-mnist)");
  Split s;
  s.count = d.images.count;
  s.x.resize(d.images.pixels.size());
  for (size_t i = 0; i < s.x.size(); ++i) s.x[i] = (d.images.pixels[i] / 255.0f - kMean) / kStd;
  s.y.assign(d.labels.begin(), d.labels.end());
  return s;
}

void make_batch(const Split& s, const std::vector<int64_t>& order, int64_t begin, int64_t end,
                bool augment, std::mt19937_64& rng, std::vector<float>* x, std::vector<int>* y,
                std::vector<uint8_t>* mirrored) {
  x->resize(static_cast<size_t>((end - begin) * 784));
  y->resize(static_cast<size_t>(end - begin));
  if (mirrored) mirrored->resize(static_cast<size_t>(end - begin));
  for (int64_t i = begin; i < end; ++i) {
    const float* src = s.x.data() + order[i] * 784;
    float* dst = x->data() + (i - begin) * 784;
    const bool mirror = augment && (rng() & 1);
    if (mirrored) (*mirrored)[static_cast<size_t>(i - begin)] = mirror;
    for (int r = 0; r < 28; ++r)
      for (int c = 0; c < 28; ++c) dst[r * 28 + c] = src[r * 28 + (mirror ? 27 - c : c)];
    (*y)[static_cast<size_t>(i - begin)] = s.y[static_cast<size_t>(order[i])];
  }
}

double accuracy(const std::vector<float>& logits, const std::vector<int>& y) {
  int64_t correct = 0;
  for (size_t i = 0; i < y.size(); ++i) {
    const float* row = logits.data() + i * 10;
    correct += std::max_element(row, row + 10) - row == y[i];
  }
  return y.empty() ? 0 : static_cast<double>(correct) / static_cast<double>(y.size());
}

}  // namespace sqz::sample
