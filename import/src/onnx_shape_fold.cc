#include "onnx_shape_fold.h"

#include <algorithm>

#include "onnx_node.h"

namespace sqz::import::detail {
namespace {

// Values past this many entries are not shapes: refused rather than carried.
constexpr size_t kMaxEntries = 16;

}  // namespace

const std::vector<int64_t>* ShapeFolder::value(const std::string& blob) const {
  auto it = values_.find(blob);
  return it == values_.end() ? nullptr : &it->second;
}

Result<std::vector<int64_t>> ShapeFolder::operand(const onnx::NodeProto& node,
                                                  const Initializers& init,
                                                  const std::string& blob) const {
  if (const auto* v = value(blob)) return *v;
  return integers_of(node, init, blob, "shape operand");
}

Status ShapeFolder::set(const onnx::NodeProto& node, std::vector<int64_t> v, bool scalar) {
  SQZ_RETURN_ERROR_IF(v.size() > kMaxEntries, ErrorCode::kUnsupported,
                      who(node) + ": a shape computation of more than 16 values");
  SQZ_RETURN_ERROR_IF(values_.count(node.output(0)), ErrorCode::kCorrupt,
                      "blob '" + node.output(0) + "' is produced twice");
  values_[node.output(0)] = std::move(v);
  scalar_[node.output(0)] = scalar;
  return Status::ok();
}

Status ShapeFolder::gather(const onnx::NodeProto& node, const Initializers& init) {
  const Attrs a(node);
  SQZ_RETURN_IF_ERROR(only_attributes(node, {"axis"}));
  if (a.i("axis", 0) != 0) return refuse(node, "Gather of a shape along an axis other than 0");
  SQZ_RETURN_ERROR_IF(node.input_size() != 2, ErrorCode::kCorrupt, who(node) + ": needs 2 inputs");
  const std::vector<int64_t>& data = values_.at(node.input(0));
  SQZ_ASSIGN_OR_RETURN(std::vector<int64_t> index, operand(node, init, node.input(1)));
  const bool scalar = value(node.input(1)) ? scalar_.at(node.input(1))
                                           : init.at(node.input(1)).shape.empty();
  const auto n = static_cast<int64_t>(data.size());
  std::vector<int64_t> out;
  for (int64_t i : index) {
    SQZ_RETURN_ERROR_IF(i < -n || i >= n, ErrorCode::kCorrupt, who(node) + ": index out of range");
    out.push_back(data[static_cast<size_t>(i < 0 ? i + n : i)]);
  }
  return set(node, std::move(out), scalar && out.size() == 1);
}

Status ShapeFolder::slice(const onnx::NodeProto& node, int64_t opset, const Initializers& init) {
  const Attrs a(node);
  std::vector<int64_t> starts = a.ints("starts"), ends = a.ints("ends"), axes = a.ints("axes");
  std::vector<int64_t> steps;
  if (opset >= 10) {
    SQZ_RETURN_ERROR_IF(node.input_size() < 3, ErrorCode::kCorrupt, who(node) + ": needs 3 inputs");
    SQZ_ASSIGN_OR_RETURN(starts, operand(node, init, node.input(1)));
    SQZ_ASSIGN_OR_RETURN(ends, operand(node, init, node.input(2)));
    if (node.input_size() > 3 && !node.input(3).empty()) {
      SQZ_ASSIGN_OR_RETURN(axes, operand(node, init, node.input(3)));
    }
    if (node.input_size() > 4 && !node.input(4).empty()) {
      SQZ_ASSIGN_OR_RETURN(steps, operand(node, init, node.input(4)));
    }
  }
  const bool one_axis = starts.size() == 1 && ends.size() == 1 &&
                        (axes.empty() || (axes.size() == 1 && (axes[0] == 0 || axes[0] == -1))) &&
                        (steps.empty() || (steps.size() == 1 && steps[0] == 1));
  if (!one_axis) return refuse(node, "Slice of a shape other than one range with step 1");
  const std::vector<int64_t>& data = values_.at(node.input(0));
  const auto n = static_cast<int64_t>(data.size());
  auto clamp = [n](int64_t i) { return std::clamp<int64_t>(i < 0 ? i + n : i, 0, n); };
  const int64_t b = clamp(starts[0]), e = std::max(b, clamp(ends[0]));
  return set(node, std::vector<int64_t>(data.begin() + b, data.begin() + e), false);
}

Result<bool> ShapeFolder::fold(const onnx::NodeProto& node, int64_t opset,
                               const Initializers& init, const ShapeOf& shape_of) {
  const std::string& op = node.op_type();
  if (node.input_size() < 1 || node.output_size() < 1) return false;
  const bool on_value = value(node.input(0)) != nullptr;
  if (op == "Shape" && !on_value) {
    const Shape* s = shape_of(node.input(0));
    if (!s || s->empty()) return false;
    SQZ_RETURN_IF_ERROR(only_attributes(node, {}));  // start/end (opset 15): not seen in exports
    std::vector<int64_t> v(s->begin(), s->end());
    v[0] = kSymbolicBatch;  // every blob of the network is batch-first
    SQZ_RETURN_IF_ERROR(set(node, std::move(v), false));
    return true;
  }
  bool any_value = on_value;
  if (op == "Concat")
    for (const std::string& in : node.input()) any_value |= value(in) != nullptr;
  if (!any_value) return false;
  if (op == "Gather") {
    SQZ_RETURN_IF_ERROR(gather(node, init));
  } else if (op == "Slice") {
    SQZ_RETURN_IF_ERROR(slice(node, opset, init));
  } else if (op == "Cast") {
    SQZ_RETURN_IF_ERROR(set(node, values_.at(node.input(0)), scalar_.at(node.input(0))));
  } else if (op == "Unsqueeze" || op == "Squeeze") {
    const bool un = op == "Unsqueeze", scalar = scalar_.at(node.input(0));
    SQZ_ASSIGN_OR_RETURN(std::vector<int64_t> axes,
                         axes_of(node, Attrs(node), opset, 13, init, /*rank=*/1));
    const bool ok = axes == std::vector<int64_t>{0} &&
                    (un ? scalar : values_.at(node.input(0)).size() == 1 && !scalar);
    if (!ok) return refuse(node, op + " of a shape value other than between a scalar and [x]");
    SQZ_RETURN_IF_ERROR(set(node, values_.at(node.input(0)), !un));
  } else if (op == "Concat") {
    const Attrs a(node);
    if (a.i("axis", 0) != 0 && a.i("axis", 0) != -1) return refuse(node, "Concat of shapes off axis 0");
    std::vector<int64_t> out;
    for (const std::string& in : node.input()) {
      SQZ_ASSIGN_OR_RETURN(std::vector<int64_t> part, operand(node, init, in));
      out.insert(out.end(), part.begin(), part.end());
    }
    SQZ_RETURN_IF_ERROR(set(node, std::move(out), false));
  } else {
    return refuse(node, "unsupported operator '" + op + "' on a shape");
  }
  return true;
}

}  // namespace sqz::import::detail
