// The 0.1 name of sqz/import/importers.h, kept for embedders: the importers are sqz::import's
// now, and reachable by their old names.
#pragma once

#include "sqz/import/importers.h"

namespace sqz::format {
using import::import_caffe;
using import::import_caffe_prototxt;
using import::import_deep_compression_net;
using import::import_onnx;
using import::ImportOptions;
using import::kOnnxPreprocessKey;
using import::load_model;
}  // namespace sqz::format
