#include <algorithm>
#include <cmath>

#include "sqz/image/image.h"

namespace sqz::image {
namespace {

struct Taps {
  std::vector<int> first;      // per output pixel: first input index
  std::vector<int> count;      // per output pixel: taps
  std::vector<float> weights;  // per output pixel: max_taps weights (normalised)
  int max_taps = 0;
};

// Triangle-filter taps for one axis (PIL Imaging/Resample.c's precompute_coeffs): the
// support widens by the scale factor when shrinking, which is what antialiasing means.
Taps bilinear_taps(int in, int out) {
  const double scale = static_cast<double>(in) / out;
  const double filter_scale = std::max(scale, 1.0);
  const double support = 1.0 * filter_scale;
  Taps t;
  t.max_taps = static_cast<int>(std::ceil(support)) * 2 + 1;
  t.first.resize(out);
  t.count.resize(out);
  t.weights.assign(static_cast<size_t>(out) * t.max_taps, 0.0f);
  for (int x = 0; x < out; ++x) {
    const double center = (x + 0.5) * scale;
    const int lo = std::max(static_cast<int>(center - support + 0.5), 0);
    const int hi = std::min(static_cast<int>(center + support + 0.5), in);
    double sum = 0;
    std::vector<double> w;
    for (int k = lo; k < hi; ++k) {
      const double d = std::fabs((k - center + 0.5) / filter_scale);
      w.push_back(d < 1.0 ? 1.0 - d : 0.0);
      sum += w.back();
    }
    t.first[x] = lo;
    t.count[x] = hi - lo;
    for (int k = 0; k < hi - lo; ++k)
      t.weights[static_cast<size_t>(x) * t.max_taps + k] =
          static_cast<float>(sum > 0 ? w[k] / sum : 0);
  }
  return t;
}

}  // namespace

Image resize_bilinear_antialias(const Image& in, int width, int height) {
  const Taps tx = bilinear_taps(in.width, width), ty = bilinear_taps(in.height, height);
  std::vector<float> horiz(static_cast<size_t>(in.height) * width * 3);
  for (int y = 0; y < in.height; ++y)
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < 3; ++c) {
        float acc = 0;
        for (int k = 0; k < tx.count[x]; ++k)
          acc += tx.weights[static_cast<size_t>(x) * tx.max_taps + k] *
                 in.rgb[(static_cast<size_t>(y) * in.width + tx.first[x] + k) * 3 + c];
        horiz[(static_cast<size_t>(y) * width + x) * 3 + c] = acc;
      }
  Image out;
  out.width = width;
  out.height = height;
  out.rgb.resize(static_cast<size_t>(width) * height * 3);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < 3; ++c) {
        float acc = 0;
        for (int k = 0; k < ty.count[y]; ++k)
          acc += ty.weights[static_cast<size_t>(y) * ty.max_taps + k] *
                 horiz[(static_cast<size_t>(ty.first[y] + k) * width + x) * 3 + c];
        out.rgb[(static_cast<size_t>(y) * width + x) * 3 + c] =
            static_cast<uint8_t>(std::clamp(std::lround(acc), 0L, 255L));
      }
  return out;
}

std::vector<float> preprocess_crop(const Image& resized, const Preprocess& p, int x0, int y0,
                                   bool mirror) {
  const int n = p.crop;
  std::vector<float> chw(static_cast<size_t>(3) * n * n);
  for (int c = 0; c < 3; ++c) {
    const int src_c = p.bgr ? 2 - c : c;
    for (int y = 0; y < n; ++y)
      for (int x = 0; x < n; ++x) {
        const int sx = x0 + (mirror ? n - 1 - x : x);
        const uint8_t v =
            resized.rgb[(static_cast<size_t>(y0 + y) * resized.width + sx) * 3 + src_c];
        chw[(static_cast<size_t>(c) * n + y) * n + x] = (v - p.mean[c]) * p.scale;
      }
  }
  return chw;
}

std::vector<float> preprocess(const Image& img, const Preprocess& p) {
  const Image resized = resize_bilinear_antialias(img, p.resize, p.resize);
  const int offset = (p.resize - p.crop) / 2;
  return preprocess_crop(resized, p, offset, offset, false);
}

}  // namespace sqz::image
