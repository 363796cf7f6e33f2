// Image decoding (JPEG via libjpeg-turbo, PNG via libpng) and the Caffe-convention
// preprocessing ImageNet CNNs were trained with.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sqz/core/status.h"

namespace sqz::image {

// 8-bit interleaved RGB.
struct Image {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;  // height x width x 3
};

// Largest accepted image side, checked before any pixel memory is allocated.
constexpr int kMaxSide = 1 << 14;

// Decodes a JPEG or PNG (chosen by its signature). Errors name the file.
Result<Image> decode_image_file(const std::string& path);
Result<Image> decode_image(const std::string& bytes, const std::string& name_for_errors);

// Separable bilinear resize with an antialiasing triangle filter widened by the downscale
// factor (the PIL / torchvision antialias=True definition), rounded back to 8 bits.
Image resize_bilinear_antialias(const Image& in, int width, int height);

struct Preprocess {
  int resize = 256;                          // both sides, before cropping
  int crop = 227;                            // centre crop side
  bool bgr = true;                           // channel order of the output
  float mean[3] = {104.0f, 117.0f, 123.0f};  // subtracted, in output channel order
  float scale = 1.0f;                        // multiplied after subtracting the mean
};

// Caffe convention (../shared/README.md): resize, centre crop at ((resize-crop)/2, same),
// channel order, mean subtraction; CHW float32 of crop x crop.
std::vector<float> preprocess(const Image& img, const Preprocess& p);

// Random crop offsets and mirroring, for calibration-time augmentation (same output size).
std::vector<float> preprocess_crop(const Image& resized, const Preprocess& p, int x0, int y0,
                                   bool mirror);

}  // namespace sqz::image
