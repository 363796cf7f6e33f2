// Importers: each turns an external model file into the shared Model representation.
// Every error names the offending file.
#pragma once

#include <string>

#include "sqz/core/graph.h"
#include "sqz/core/status.h"
#include "sqz/format/sqz_file.h"

namespace sqz::import {

// A Caffe deploy .prototxt (text NetParameter, `layer` messages) as a graph whose
// convolution weights are not yet loaded (empty tensors).
Result<Model> import_caffe_prototxt(const std::string& prototxt_path);

// prototxt + binary .caffemodel: blobs[0] = weights, blobs[1] = bias, matched by layer name;
// blob shapes from `shape` or the legacy num/channels/height/width.
Result<Model> import_caffe(const std::string& prototxt_path, const std::string& caffemodel_path);

// What an importer may be told beyond the file.
struct ImportOptions {
  // The input's (N, C, H, W) where the file leaves dimensions symbolic (ONNX dim_param);
  // where it fixes them they must agree (the batch may differ). Empty: the file's, batch 1.
  // A Caffe network's declared input is replaced by it (SqueezeNet takes any input size).
  Shape input_shape;
  // A .sqz: quantized layers with their codes only (Layer::codes_only), for a caller that only
  // runs the model (the runtime packs the codes itself).
  bool sqz_codes_only = false;
};

// An ONNX model (opset 7..): Conv (any padding, auto_pad, groups; without a bias too),
// Relu, MaxPool/AveragePool (ceil_mode, asymmetric pads), GlobalAveragePool/GlobalMaxPool,
// Concat (channels), Add/Sum, Dropout, Identity (dropped), BatchNormalization (folded into
// the convolution before it), Softmax (any axis but the batch's), Flatten/Reshape flattening
// at the head (the Reshape's target may be computed as PyTorch writes x.view(x.size(0), -1):
// Shape, Gather, Unsqueeze, Concat, Cast, Slice on shapes are evaluated at import), Squeeze of
// the 1x1 planes, ReduceMean/ReduceMax over H and W (global pooling), Constant nodes;
// float32 initializers. A model in training mode (BatchNormalization's, Dropout's) is refused.
// Anything else fails naming the node and what it is.
// metadata, when given, receives {"preprocess", description} from the model's metadata_props
// entry kOnnxPreprocessKey and {"calibration_images_crc32c", list} from kOnnxCalibrationKey,
// when it has them (and is cleared otherwise); a list longer than kMaxOnnxCalibrationBytes is
// an error.
Result<Model> import_onnx(const std::string& onnx_path, const ImportOptions& options = {},
                          format::Metadata* metadata = nullptr);

// The ONNX metadata_props key of squeeze-compress's preprocessing description (the one-line
// form .sqz files record under "preprocess"): an exporter that writes it lets `run` and `eval`
// preprocess as the model was trained without options.
inline constexpr const char* kOnnxPreprocessKey = "squeeze_compress.preprocess";
// The CRC32C of the images a model was calibrated on (space-separated hex, as .sqz files list
// them under "calibration_images_crc32c"), so that `eval` refuses them after a round trip.
inline constexpr const char* kOnnxCalibrationKey = "squeeze_compress.calibration_images_crc32c";
inline constexpr size_t kMaxOnnxCalibrationBytes = size_t{9} << 20;  // a million images

// The Deep Compression release file (songhan/SqueezeNet-Deep-Compression) and its
// prototxt. Layout: ../shared/README.md and format/SPEC.md, appendix A.
Result<Model> import_deep_compression_net(const std::string& prototxt_path,
                                          const std::string& net_path);

// Picks the importer from the extension: .onnx; .caffemodel or .net (prototxt required,
// or found beside it with the same stem); .prototxt (weights file found beside it).
// prototxt_path given with any other form is kInvalidArgument (it would be ignored).
// metadata, when given, receives what the file records (.sqz metadata, an ONNX model's
// preprocessing description), and is cleared for forms that record nothing.
Result<Model> load_model(const std::string& path, const std::string& prototxt_path = "",
                         const ImportOptions& options = {}, format::Metadata* metadata = nullptr);

}  // namespace sqz::import
