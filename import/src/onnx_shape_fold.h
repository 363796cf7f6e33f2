// The integer shape arithmetic PyTorch's exporter writes in front of a Reshape: x.view(x.size(0),
// -1) becomes Shape -> Gather -> Unsqueeze -> Concat (with a Constant -1) -> Reshape. Such
// nodes make no layer; they are evaluated at import, the batch dimension kept symbolic
// (kSymbolicBatch), so that the Reshape they feed is recognised as flattening for any batch.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "onnx.pb.h"
#include "onnx_tensor.h"
#include "sqz/core/status.h"
#include "sqz/core/tensor.h"

namespace sqz::import::detail {

constexpr int64_t kSymbolicBatch = INT64_MIN;

class ShapeFolder {
 public:
  using ShapeOf = std::function<const Shape*(const std::string& blob)>;
  // Evaluates `node` when it computes on shapes: Shape of a blob whose shape is known, or
  // Gather, Unsqueeze, Squeeze, Concat, Cast or Slice whose data is such a value (Concat: with
  // integer constants beside). False, recording nothing, for any other node.
  Result<bool> fold(const onnx::NodeProto& node, int64_t opset, const Initializers& init,
                    const ShapeOf& shape_of);
  // The folded value of `blob`, or null.
  const std::vector<int64_t>* value(const std::string& blob) const;

 private:
  Result<std::vector<int64_t>> operand(const onnx::NodeProto& node, const Initializers& init,
                                       const std::string& blob) const;
  Status gather(const onnx::NodeProto& node, const Initializers& init);
  Status slice(const onnx::NodeProto& node, int64_t opset, const Initializers& init);
  Status set(const onnx::NodeProto& node, std::vector<int64_t> v, bool scalar);

  std::map<std::string, std::vector<int64_t>> values_;
  std::map<std::string, bool> scalar_;  // rank 0 (a Gather by a scalar index)
};

}  // namespace sqz::import::detail
