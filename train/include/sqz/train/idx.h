// IDX files (the MNIST / Fashion-MNIST format), optionally gzip-compressed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sqz/core/status.h"

namespace sqz::train {

struct IdxImages {
  int64_t count = 0, rows = 0, cols = 0;
  std::vector<uint8_t> pixels;  // count x rows x cols
};

// Magic 0x00000803, big-endian dims; every size checked against the bytes present.
Result<IdxImages> read_idx_images(const std::string& path);
// Magic 0x00000801.
Result<std::vector<uint8_t>> read_idx_labels(const std::string& path);

// Fashion-MNIST as Debian's dataset-fashion-mnist installs it.
constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

struct Dataset {
  IdxImages images;
  std::vector<uint8_t> labels;
};

// Reads "<dir>/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]" (split "train" or "t10k").
// Missing or corrupt files get an error that names the Debian package providing them.
Result<Dataset> read_fashion_mnist(const std::string& dir, const std::string& split);

}  // namespace sqz::train
