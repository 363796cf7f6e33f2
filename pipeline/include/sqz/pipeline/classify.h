// Image classification helpers shared by run and eval.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "sqz/core/status.h"
#include "sqz/image/image.h"
#include "sqz/pipeline/preprocessing.h"
#include "sqz/runtime/classifier.h"
#include "sqz/runtime/net.h"

namespace sqz::pipeline {

// Decodes and preprocesses one image into CHW floats.
Result<std::vector<float>> load_input(const std::string& path, const image::Preprocess& p);

// Indices of the k largest scores, largest first (sqz/runtime/classifier.h).
using runtime::top_k;

}  // namespace sqz::pipeline
