#include "onnx_metadata.h"

#include "sqz/import/importers.h"

namespace sqz::import::detail {

// The file's preprocessing and calibration list (metadata_props), the list checked.
Status read_onnx_metadata(const onnx::ModelProto& proto, const std::string& onnx_path,
                     format::Metadata* metadata) {
  metadata->clear();
  for (const auto& p : proto.metadata_props()) {
    if (p.key() == kOnnxPreprocessKey) metadata->push_back({"preprocess", p.value()});
    if (p.key() != kOnnxCalibrationKey) continue;
    if (p.value().size() > kMaxOnnxCalibrationBytes)
      return Status(ErrorCode::kLimit, onnx_path + ": metadata '" + kOnnxCalibrationKey +
                                           "' is longer than " +
                                           std::to_string(kMaxOnnxCalibrationBytes) + " bytes");
    if (!is_crc_list(p.value()))
      return Status(ErrorCode::kCorrupt, onnx_path + ": metadata '" + kOnnxCalibrationKey +
                                             "' is not a list of CRC32C (8 hex digits each, "
                                             "separated by spaces)");
    metadata->push_back({"calibration_images_crc32c", p.value()});
  }
  return Status::ok();
}

}  // namespace sqz::import::detail
