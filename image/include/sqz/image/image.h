// Image decoding (JPEG via libjpeg-turbo, PNG via libpng) and the preprocessing that turns an
// image into a network input (Caffe's, torchvision's, or any resize/crop/scale in between).
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

// How image files are decoded, and the budget a hostile file cannot exceed (checked from the
// header, before pixel memory is allocated).
struct DecodeOptions {
  int64_t max_pixels = int64_t{1} << 25;  // 33.5 Mpixels (e.g. 6700 x 5000)
  int max_scans = 200;                    // progressive JPEG scans (a normal file has ~10)
  int64_t max_file_bytes = int64_t{256} << 20;
  // A JPEG that ends early or has corrupt data decodes with libjpeg's warning and grey fill;
  // by default that is an error.
  bool allow_truncated = false;
};

// Decodes a JPEG or PNG (chosen by its signature). Errors name the file: not a regular file
// (a FIFO, a device, a folder), too large, truncated or corrupt, beyond the budget.
Result<Image> decode_image_file(const std::string& path, const DecodeOptions& options = {});
Result<Image> decode_image(const std::string& bytes, const std::string& name_for_errors,
                           const DecodeOptions& options = {});

// Separable bilinear resize with an antialiasing triangle filter widened by the downscale
// factor (the PIL / torchvision antialias=True definition), rounded back to 8 bits.
Image resize_bilinear_antialias(const Image& in, int width, int height);

// How images become network inputs. out[c][y][x] = (pixel / divisor - mean[c]) / std[c], over
// a crop_h x crop_w window of the resized image, channels in `bgr` order (or one grey channel,
// ITU-R 601 luma as PIL's convert("L")). Presets:
//   Caffe (the default; the release SqueezeNet): both sides resized to 256, centre crop,
//     BGR, divisor 1, mean (104, 117, 123), std 1.
//   torchvision (ImageNet models trained with torchvision's transforms): shorter side to 256
//     (aspect kept), centre crop, RGB, divisor 255, mean (0.485, 0.456, 0.406), std (0.229,
//     0.224, 0.225).
enum class ResizeMode {
  kSquare,       // both sides to `resize` (Caffe's warp)
  kShorterSide,  // the shorter side to `resize`, the other by the aspect ratio (torchvision)
  kNone,         // no resize: the image must be at least the crop (e.g. 28x28 digits)
};

struct Preprocess {
  ResizeMode resize_mode = ResizeMode::kSquare;
  int resize = 256;
  int crop_h = 227, crop_w = 227;  // the network's input H and W
  int channels = 3;                // 3: colour; 1: grey
  bool bgr = true;                 // colour channel order of the output
  float divisor = 1.0f;            // pixels (0..255) are divided by it first
  float mean[3] = {104.0f, 117.0f, 123.0f};  // subtracted, in output channel order
  float std[3] = {1.0f, 1.0f, 1.0f};         // divided by, in output channel order
  DecodeOptions decode;  // how the files are read (not part of the model's description)
};

Preprocess caffe_preprocess(int crop_h, int crop_w);
Preprocess torchvision_preprocess(int crop_h, int crop_w);

// The image as the preprocessing resizes it (before cropping). kInvalidArgument when it is
// smaller than the crop (kNone) or the description is out of range.
Result<Image> resize_for(const Image& img, const Preprocess& p);

// The centre crop's top-left corner in a resized image: Caffe's (d / 2) for kSquare and kNone,
// torchvision's round(d / 2) for kShorterSide.
void centre_offsets(const Image& resized, const Preprocess& p, int* x0, int* y0);

// resize_for, centre crop, channel order, scaling: CHW float32 of channels x crop_h x crop_w.
Result<std::vector<float>> preprocess(const Image& img, const Preprocess& p);

// A crop at (x0, y0) of an already resized image, optionally mirrored (for calibration-time
// augmentation; same output size). REQUIRES: the window lies inside the image.
std::vector<float> preprocess_crop(const Image& resized, const Preprocess& p, int x0, int y0,
                                   bool mirror);

}  // namespace sqz::image
