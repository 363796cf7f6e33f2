#include "onnx_tensor.h"

#include <cstring>

namespace sqz::import::detail {

using onnx::TensorProto;

Result<Tensor> tensor_from_proto(const TensorProto& t) {
  Tensor out;
  for (int64_t d : t.dims()) {
    SQZ_RETURN_ERROR_IF(d < 0 || d > (int64_t{1} << 31), ErrorCode::kCorrupt,
                        "initializer '" + t.name() + "' has an invalid dimension");
    out.shape.push_back(d);
  }
  SQZ_RETURN_ERROR_IF(t.data_location() == TensorProto::EXTERNAL, ErrorCode::kUnsupported,
                      "initializer '" + t.name() + "' uses external data");
  const int64_t n = shape_numel(out.shape);
  SQZ_RETURN_ERROR_IF(n > (int64_t{1} << 31), ErrorCode::kLimit,
                      "initializer '" + t.name() + "' is too large");
  if (t.data_type() == TensorProto::FLOAT) {
    if (t.has_raw_data()) {
      SQZ_RETURN_ERROR_IF(static_cast<int64_t>(t.raw_data().size()) != 4 * n, ErrorCode::kCorrupt,
                          "initializer '" + t.name() + "' raw_data has the wrong size");
      out.data.resize(static_cast<size_t>(n));
      const auto* p = reinterpret_cast<const uint8_t*>(t.raw_data().data());
      for (int64_t k = 0; k < n; ++k) {
        uint32_t v = uint32_t{p[4 * k]} | uint32_t{p[4 * k + 1]} << 8 |
                     uint32_t{p[4 * k + 2]} << 16 | uint32_t{p[4 * k + 3]} << 24;
        std::memcpy(&out.data[static_cast<size_t>(k)], &v, 4);
      }
    } else {
      SQZ_RETURN_ERROR_IF(t.float_data_size() != n, ErrorCode::kCorrupt,
                          "initializer '" + t.name() + "' float_data has the wrong size");
      out.data.assign(t.float_data().begin(), t.float_data().end());
    }
  } else if (t.data_type() == TensorProto::INT64) {
    // Shape operands (Reshape); kept as floats, they are small integers.
    if (t.has_raw_data()) {
      SQZ_RETURN_ERROR_IF(static_cast<int64_t>(t.raw_data().size()) != 8 * n, ErrorCode::kCorrupt,
                          "initializer '" + t.name() + "' raw_data has the wrong size");
      for (int64_t k = 0; k < n; ++k) {
        int64_t v;
        std::memcpy(&v, t.raw_data().data() + 8 * k, 8);
        out.data.push_back(static_cast<float>(v));
      }
    } else {
      SQZ_RETURN_ERROR_IF(t.int64_data_size() != n, ErrorCode::kCorrupt,
                          "initializer '" + t.name() + "' int64_data has the wrong size");
      for (int64_t v : t.int64_data()) out.data.push_back(static_cast<float>(v));
    }
  } else if (t.data_type() == TensorProto::INT32 || t.data_type() == TensorProto::BOOL) {
    // Operands (axes, flags); int32_data holds both (onnx.proto), raw_data 4 or 1 bytes each.
    const int64_t width = t.data_type() == TensorProto::BOOL ? 1 : 4;
    if (t.has_raw_data()) {
      SQZ_RETURN_ERROR_IF(static_cast<int64_t>(t.raw_data().size()) != width * n,
                          ErrorCode::kCorrupt,
                          "initializer '" + t.name() + "' raw_data has the wrong size");
      for (int64_t k = 0; k < n; ++k) {
        int32_t v = 0;
        std::memcpy(&v, t.raw_data().data() + width * k, static_cast<size_t>(width));
        out.data.push_back(static_cast<float>(width == 1 ? (v & 0xff) : v));
      }
    } else {
      SQZ_RETURN_ERROR_IF(t.int32_data_size() != n, ErrorCode::kCorrupt,
                          "initializer '" + t.name() + "' int32_data has the wrong size");
      for (int32_t v : t.int32_data()) out.data.push_back(static_cast<float>(v));
    }
  } else {
    return Status(ErrorCode::kUnsupported, "initializer '" + t.name() + "' has data type " +
                                               std::to_string(t.data_type()) +
                                               " (only float32 weights are supported)");
  }
  return out;
}

}  // namespace sqz::import::detail
