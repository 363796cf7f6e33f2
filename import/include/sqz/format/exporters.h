// The 0.1 name of sqz/import/exporters.h, kept for embedders.
#pragma once

#include "sqz/import/exporters.h"

namespace sqz::format {
using import::export_caffe_prototxt;
using import::export_caffemodel;
using import::export_onnx;
}  // namespace sqz::format
