#include "sqz/core/tensor.h"

#include <algorithm>
#include <limits>

namespace sqz {

int64_t shape_numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape)
    if (__builtin_mul_overflow(n, d, &n)) return std::numeric_limits<int64_t>::max();
  return n;
}

std::string shape_to_string(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

int64_t Tensor::count_nonzero() const {
  return std::count_if(data.begin(), data.end(), [](float v) { return v != 0.0f; });
}

}  // namespace sqz
