// The ONNX importer's node helpers: attributes, errors that name the node, constant operands
// and axes, and the window (kernel, strides, padding) of convolutions and pooling.
#include "onnx_node.h"

#include <algorithm>
#include <cmath>

namespace sqz::import::detail {
namespace {

// SAME_UPPER / SAME_LOWER: the output is ceil(in / stride); the padding that needs is split
// evenly, the odd one at the end (UPPER) or the beginning (LOWER).
void same_padding(int64_t in, int64_t kernel, int64_t stride, bool upper, int64_t* begin,
                  int64_t* extra) {
  const int64_t out = (in + stride - 1) / stride;
  const int64_t total = std::max<int64_t>((out - 1) * stride + kernel - in, 0);
  const int64_t small = total / 2, big = total - small;
  *begin = upper ? small : big;
  *extra = (upper ? big : small) - *begin;
}

}  // namespace


std::string who(const onnx::NodeProto& node) {
  const std::string& name =
      !node.name().empty() || node.output_size() == 0 ? node.name() : node.output(0);
  return "node '" + name + "' (" + node.op_type() + ")";
}

Status refuse(const onnx::NodeProto& node, const std::string& what) {
  return Status(ErrorCode::kUnsupported, who(node) + ": " + what);
}

Status only_attributes(const onnx::NodeProto& node, std::initializer_list<const char*> known) {
  for (const onnx::AttributeProto& a : node.attribute()) {
    bool ok = false;
    for (const char* k : known) ok |= a.name() == k;
    if (!ok) return refuse(node, "attribute '" + a.name() + "' is not supported");
  }
  return Status::ok();
}

Result<std::vector<int64_t>> integers_of(const onnx::NodeProto& node, const Initializers& init,
                                         const std::string& blob, const char* what) {
  auto it = init.find(blob);
  if (it == init.end())
    return refuse(node, std::string("the ") + what + " must be a constant (an initializer)");
  std::vector<int64_t> out;
  for (float v : it->second.data) {
    SQZ_RETURN_ERROR_IF(!std::isfinite(v) || v != std::trunc(v) || std::fabs(v) > 1e9f,
                        ErrorCode::kCorrupt, who(node) + ": the " + what + " is not integers");
    out.push_back(static_cast<int64_t>(v));
  }
  return out;
}

Result<std::vector<int64_t>> axes_of(const onnx::NodeProto& node, const Attrs& a, int64_t opset,
                                     int64_t input_from, const Initializers& init, int64_t rank) {
  std::vector<int64_t> axes = a.ints("axes");
  if (opset >= input_from && node.input_size() > 1 && !node.input(1).empty()) {
    SQZ_ASSIGN_OR_RETURN(axes, integers_of(node, init, node.input(1), "axes"));
  }
  for (int64_t& x : axes) {
    if (x < 0) x += rank;
    SQZ_RETURN_ERROR_IF(x < 0 || x >= rank, ErrorCode::kCorrupt,
                        who(node) + ": axis out of range for rank " + std::to_string(rank));
  }
  return axes;
}

Status read_window(const onnx::NodeProto& node, const Attrs& a, const Shape& in, Window* w) {
  for (int64_t d : a.ints("dilations"))
    if (d != 1) return refuse(node, "dilations other than 1 are not supported");
  const std::vector<int64_t> k = a.ints("kernel_shape"), s = a.ints("strides"), p = a.ints("pads");
  if (!k.empty() && k.size() != 2) return refuse(node, "only 2-D kernels are supported");
  if (!s.empty() && s.size() != 2) return refuse(node, "only 2-D strides are supported");
  if (!p.empty() && p.size() != 4) return refuse(node, "only 2-D pads are supported");
  if (!k.empty()) w->kh = k[0], w->kw = k[1];
  if (!s.empty()) w->sh = s[0], w->sw = s[1];
  SQZ_RETURN_ERROR_IF(w->kh < 1 || w->kw < 1 || w->sh < 1 || w->sw < 1, ErrorCode::kCorrupt,
                      who(node) + ": kernel and strides must be positive");
  const std::string auto_pad = a.s("auto_pad");
  if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
    const bool upper = auto_pad == "SAME_UPPER";
    same_padding(in[2], w->kh, w->sh, upper, &w->ph, &w->eh);
    same_padding(in[3], w->kw, w->sw, upper, &w->pw, &w->ew);
    return Status::ok();
  }
  if (!auto_pad.empty() && auto_pad != "NOTSET" && auto_pad != "VALID")
    return refuse(node, "auto_pad '" + auto_pad + "' is not supported");
  if (auto_pad == "VALID" || p.empty()) return Status::ok();
  for (int64_t v : p)
    SQZ_RETURN_ERROR_IF(v < 0 || v > (int64_t{1} << 16), ErrorCode::kCorrupt,
                        who(node) + ": pads out of range");
  w->ph = p[0], w->pw = p[1], w->eh = p[2] - p[0], w->ew = p[3] - p[1];
  return Status::ok();
}

}  // namespace sqz::import::detail
