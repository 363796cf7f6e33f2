// Dense float32 tensors: the one in-memory weight type every stage shares.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sqz {

using Shape = std::vector<int64_t>;

// Number of elements of a shape (1 for rank 0); INT64_MAX when the product overflows, so that
// every limit check rejects it. REQUIRES: every dim >= 0.
int64_t shape_numel(const Shape& shape);
// "[96, 3, 7, 7]"
std::string shape_to_string(const Shape& shape);

// Row-major float32 tensor. Convolution weights are OIHW, biases [O], activations NCHW.
struct Tensor {
  Shape shape;
  std::vector<float> data;  // shape_numel(shape) values

  int64_t numel() const { return static_cast<int64_t>(data.size()); }
  bool empty() const { return data.empty(); }
  int64_t count_nonzero() const;
};

}  // namespace sqz
