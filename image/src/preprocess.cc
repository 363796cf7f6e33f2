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

// std::lround clamped to 0..255, without the libm call (a sixth of the resize's time): a sum
// of pixels by the filter's non-negative weights is never below 0, and x - trunc(x) is exact.
inline uint8_t round_to_byte(float x) {
  if (!(x > 0.0f)) return 0;  // also a NaN (which no filter of finite weights gives)
  if (x >= 255.0f) return 255;
  const int whole = static_cast<int>(x);
  return static_cast<uint8_t>(whole + (x - static_cast<float>(whole) >= 0.5f));
}

Image resize_bilinear_antialias(const Image& in, int width, int height) {
  const Taps tx = bilinear_taps(in.width, width), ty = bilinear_taps(in.height, height);
  // Each output's taps are added in order from 0 in both passes; the three channels of a pixel
  // (and, in the second pass, a whole row) are summed side by side.
  std::vector<float> horiz(static_cast<size_t>(in.height) * width * 3);
  for (int y = 0; y < in.height; ++y)
    for (int x = 0; x < width; ++x) {
      const float* w = tx.weights.data() + static_cast<size_t>(x) * tx.max_taps;
      const uint8_t* px = in.rgb.data() + (static_cast<size_t>(y) * in.width + tx.first[x]) * 3;
      float r = 0, g = 0, b = 0;
      for (int k = 0; k < tx.count[x]; ++k, px += 3)
        r += w[k] * px[0], g += w[k] * px[1], b += w[k] * px[2];
      float* h = horiz.data() + (static_cast<size_t>(y) * width + x) * 3;
      h[0] = r, h[1] = g, h[2] = b;
    }
  Image out;
  out.width = width;
  out.height = height;
  out.rgb.resize(static_cast<size_t>(width) * height * 3);
  const size_t row = static_cast<size_t>(width) * 3;
  std::vector<float> acc(row);
  for (int y = 0; y < height; ++y) {
    std::fill(acc.begin(), acc.end(), 0.0f);
    for (int k = 0; k < ty.count[y]; ++k) {
      const float w = ty.weights[static_cast<size_t>(y) * ty.max_taps + k];
      const float* h = horiz.data() + static_cast<size_t>(ty.first[y] + k) * row;
      for (size_t j = 0; j < row; ++j) acc[j] += w * h[j];
    }
    uint8_t* o = out.rgb.data() + static_cast<size_t>(y) * row;
    for (size_t j = 0; j < row; ++j) o[j] = round_to_byte(acc[j]);
  }
  return out;
}

Preprocess caffe_preprocess(int crop_h, int crop_w) {
  Preprocess p;
  p.crop_h = crop_h;
  p.crop_w = crop_w;
  p.resize = std::max({crop_h, crop_w, 256});
  return p;
}

Preprocess torchvision_preprocess(int crop_h, int crop_w) {
  Preprocess p;
  p.resize_mode = ResizeMode::kShorterSide;
  p.crop_h = crop_h;
  p.crop_w = crop_w;
  // torchvision's ImageNet evaluation: Resize(256) then CenterCrop(224), i.e. 8/7 of the crop.
  p.resize = std::max(crop_h, crop_w) * 8 / 7;
  p.bgr = false;
  p.divisor = 255.0f;
  const float mean[3] = {0.485f, 0.456f, 0.406f}, std[3] = {0.229f, 0.224f, 0.225f};
  std::copy(mean, mean + 3, p.mean);
  std::copy(std, std + 3, p.std);
  return p;
}

Result<Image> resize_for(const Image& img, const Preprocess& p) {
  SQZ_RETURN_ERROR_IF(p.crop_h < 1 || p.crop_w < 1 || p.crop_h > kMaxSide || p.crop_w > kMaxSide ||
                          p.resize < 1 || p.resize > kMaxSide,
                      ErrorCode::kInvalidArgument,
                      "preprocessing sizes must be in 1.." + std::to_string(kMaxSide));
  Image out;
  switch (p.resize_mode) {
    case ResizeMode::kNone:
      out = img;
      break;
    case ResizeMode::kSquare:
      out = resize_bilinear_antialias(img, p.resize, p.resize);
      break;
    case ResizeMode::kShorterSide: {
      // torchvision.transforms.Resize(int): the longer side is int(size * long / short).
      const bool wide = img.width >= img.height;
      const int64_t shorter = wide ? img.height : img.width, longer = wide ? img.width : img.height;
      const int64_t other = static_cast<int64_t>(p.resize) * longer / std::max<int64_t>(shorter, 1);
      SQZ_RETURN_ERROR_IF(other > kMaxSide, ErrorCode::kLimit,
                          "the resized image would be " + std::to_string(other) +
                              " pixels long, above the limit of " + std::to_string(kMaxSide));
      out = wide ? resize_bilinear_antialias(img, static_cast<int>(other), p.resize)
                 : resize_bilinear_antialias(img, p.resize, static_cast<int>(other));
      break;
    }
  }
  SQZ_RETURN_ERROR_IF(out.width < p.crop_w || out.height < p.crop_h, ErrorCode::kInvalidArgument,
                      "the image (" + std::to_string(out.width) + "x" +
                          std::to_string(out.height) + " after resizing) is smaller than the " +
                          std::to_string(p.crop_w) + "x" + std::to_string(p.crop_h) + " crop");
  return out;
}

void centre_offsets(const Image& resized, const Preprocess& p, int* x0, int* y0) {
  const int dx = resized.width - p.crop_w, dy = resized.height - p.crop_h;
  if (p.resize_mode == ResizeMode::kShorterSide) {
    // torchvision's CenterCrop: int(round(d / 2.0)), Python's round half to even.
    *x0 = static_cast<int>(std::nearbyint(dx / 2.0));
    *y0 = static_cast<int>(std::nearbyint(dy / 2.0));
  } else {
    *x0 = dx / 2;
    *y0 = dy / 2;
  }
}

std::vector<float> preprocess_crop(const Image& resized, const Preprocess& p, int x0, int y0,
                                   bool mirror) {
  const int h = p.crop_h, w = p.crop_w;
  std::vector<float> chw(static_cast<size_t>(p.channels) * h * w);
  auto pixel = [&](int y, int x, int c) -> float {
    const int sx = x0 + (mirror ? w - 1 - x : x);
    const uint8_t* px = &resized.rgb[(static_cast<size_t>(y0 + y) * resized.width + sx) * 3];
    if (p.channels == 1)  // PIL's convert("L"): L = R * 299/1000 + G * 587/1000 + B * 114/1000
      return static_cast<float>((px[0] * 19595 + px[1] * 38470 + px[2] * 7471 + 0x8000) >> 16);
    return px[p.bgr ? 2 - c : c];
  };
  for (int c = 0; c < p.channels; ++c)
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x)
        chw[(static_cast<size_t>(c) * h + y) * w + x] =
            (pixel(y, x, c) / p.divisor - p.mean[c]) / p.std[c];
  return chw;
}

Result<std::vector<float>> preprocess(const Image& img, const Preprocess& p) {
  SQZ_RETURN_ERROR_IF(p.channels != 1 && p.channels != 3, ErrorCode::kInvalidArgument,
                      "preprocessing makes 1 or 3 channels, not " + std::to_string(p.channels));
  SQZ_ASSIGN_OR_RETURN(Image resized, resize_for(img, p));
  int x0 = 0, y0 = 0;
  centre_offsets(resized, p, &x0, &y0);
  return preprocess_crop(resized, p, x0, y0, false);
}

}  // namespace sqz::image
