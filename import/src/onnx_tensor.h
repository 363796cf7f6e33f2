// ONNX tensors to the shared Tensor (float32 weights; int64 shape operands kept as floats).
#pragma once

#include <map>
#include <string>

#include "onnx.pb.h"
#include "sqz/core/status.h"
#include "sqz/core/tensor.h"

namespace sqz::import::detail {

using Initializers = std::map<std::string, Tensor>;

// Errors name the tensor: external data, types other than float32/int64, sizes that disagree
// with the dimensions, dimensions beyond 2^31.
Result<Tensor> tensor_from_proto(const onnx::TensorProto& t);

}  // namespace sqz::import::detail
