// Exporters: dense float32 models that other tools load (ONNX Runtime, Caffe, PyTorch).
#pragma once

#include <string>

#include "sqz/core/graph.h"
#include "sqz/core/status.h"
#include "sqz/format/sqz_file.h"

namespace sqz::import {

// Serialized ONNX ModelProto (IR 7, opset 13), weights as raw_data initializers.
// metadata: its "preprocess" entry (the description .sqz files record) is stored in the
// model's metadata_props under kOnnxPreprocessKey and its "calibration_images_crc32c" entries,
// joined, under kOnnxCalibrationKey (importers.h), so that import_onnx reads them back; the
// rest is not written.
Result<std::string> export_onnx(const Model& model, const format::Metadata& metadata = {});

// Caffe deploy prototxt (text) and binary caffemodel (blobs with `shape`).
Result<std::string> export_caffe_prototxt(const Model& model);
Result<std::string> export_caffemodel(const Model& model);

}  // namespace sqz::import
