#include "sqz/pipeline/classify.h"

namespace sqz::pipeline {

Result<std::vector<float>> load_input(const std::string& path, const image::Preprocess& p) {
  SQZ_ASSIGN_OR_RETURN(image::Image img, image::decode_image_file(path, p.decode));
  auto input = image::preprocess(img, p);
  if (!input.is_ok()) return input.status().with_context(path);
  return input;
}

}  // namespace sqz::pipeline
