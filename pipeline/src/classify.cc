#include "sqz/pipeline/classify.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace sqz::pipeline {

Result<std::vector<float>> load_input(const std::string& path, const image::Preprocess& p) {
  SQZ_ASSIGN_OR_RETURN(image::Image img, image::decode_image_file(path, p.decode));
  auto input = image::preprocess(img, p);
  if (!input.is_ok()) return input.status().with_context(path);
  return input;
}

std::vector<int> top_k(const float* scores, int n, int k) {
  std::vector<int> idx(static_cast<size_t>(n));
  std::iota(idx.begin(), idx.end(), 0);
  k = std::min(k, n);
  // NaN ranks below every number (a strict weak order; NaNs would otherwise break the sort
  // and silently drop classes).
  auto key = [&](int i) { return std::isnan(scores[i]) ? -INFINITY : scores[i]; };
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int a, int b) {
    const float x = key(a), y = key(b);
    return x > y || (x == y && a < b);
  });
  idx.resize(static_cast<size_t>(k));
  return idx;
}

}  // namespace sqz::pipeline
