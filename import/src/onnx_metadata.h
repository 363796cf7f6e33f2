// The calibration list an ONNX file carries in metadata_props (kOnnxCalibrationKey): lowercase
// hex CRC32C of 8 digits, one space between. Internal to the ONNX importer and exporter, so
// that the exporter writes only what the importer reads.
#pragma once

#include <string>

#include "onnx.pb.h"
#include "sqz/core/status.h"
#include "sqz/format/sqz_file.h"

namespace sqz::import::detail {

inline bool is_crc_token(const std::string& s, size_t at) {
  if (s.size() - at < 8) return false;
  for (size_t j = at; j < at + 8; ++j)
    if (!((s[j] >= '0' && s[j] <= '9') || (s[j] >= 'a' && s[j] <= 'f'))) return false;
  return true;
}

inline bool is_crc_list(const std::string& v) {
  for (size_t i = 0; i < v.size(); i += 9)
    if (!is_crc_token(v, i) || (i + 8 < v.size() && v[i + 8] != ' ')) return false;
  return true;
}

// The file's preprocessing and calibration list (metadata_props) into `metadata`; a list that
// is too long or not CRCs is an error naming onnx_path.
Status read_onnx_metadata(const onnx::ModelProto& proto, const std::string& onnx_path,
                          format::Metadata* metadata);

}  // namespace sqz::import::detail
