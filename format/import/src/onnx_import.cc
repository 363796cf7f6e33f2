#include <google/protobuf/io/coded_stream.h>

#include <climits>
#include <cstring>
#include <map>

#include "onnx.pb.h"
#include "sqz/core/file_io.h"
#include "sqz/format/importers.h"

namespace sqz::format {
namespace {

using onnx::AttributeProto;
using onnx::NodeProto;
using onnx::TensorProto;

struct Attrs {
  std::map<std::string, const AttributeProto*> by_name;
  int64_t i(const std::string& n, int64_t def) const {
    auto it = by_name.find(n);
    return it == by_name.end() ? def : it->second->i();
  }
  std::vector<int64_t> ints(const std::string& n) const {
    auto it = by_name.find(n);
    if (it == by_name.end()) return {};
    return {it->second->ints().begin(), it->second->ints().end()};
  }
  std::string s(const std::string& n) const {
    auto it = by_name.find(n);
    return it == by_name.end() ? std::string() : it->second->s();
  }
};

Attrs attrs_of(const NodeProto& node) {
  Attrs a;
  for (const AttributeProto& at : node.attribute()) a.by_name[at.name()] = &at;
  return a;
}

std::string who(const NodeProto& node) {
  return "node '" + (node.name().empty() ? node.output(0) : node.name()) + "' (" + node.op_type() +
         ")";
}

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
  } else {
    return Status(ErrorCode::kUnsupported, "initializer '" + t.name() + "' has data type " +
                                               std::to_string(t.data_type()) +
                                               " (only float32 weights are supported)");
  }
  return out;
}

Status symmetric_2d(const NodeProto& node, const std::vector<int64_t>& pads, int64_t* ph,
                    int64_t* pw) {
  *ph = *pw = 0;
  if (pads.empty()) return Status::ok();
  SQZ_RETURN_ERROR_IF(pads.size() != 4, ErrorCode::kUnsupported,
                      who(node) + ": only 2-D pads are supported");
  SQZ_RETURN_ERROR_IF(pads[0] != pads[2] || pads[1] != pads[3], ErrorCode::kUnsupported,
                      who(node) + ": asymmetric padding is not supported");
  *ph = pads[0];
  *pw = pads[1];
  return Status::ok();
}

Status check_2d(const NodeProto& node, const std::vector<int64_t>& v, const char* what) {
  SQZ_RETURN_ERROR_IF(!v.empty() && v.size() != 2, ErrorCode::kUnsupported,
                      who(node) + ": only 2-D " + what + " are supported");
  return Status::ok();
}

Status check_plain_geometry(const NodeProto& node, const Attrs& a) {
  std::string auto_pad = a.s("auto_pad");
  SQZ_RETURN_ERROR_IF(!auto_pad.empty() && auto_pad != "NOTSET" && auto_pad != "VALID",
                      ErrorCode::kUnsupported, who(node) + ": auto_pad " + auto_pad);
  for (int64_t d : a.ints("dilations"))
    SQZ_RETURN_ERROR_IF(d != 1, ErrorCode::kUnsupported, who(node) + ": dilation");
  SQZ_RETURN_IF_ERROR(check_2d(node, a.ints("strides"), "strides"));
  return check_2d(node, a.ints("kernel_shape"), "kernels");
}

using Initializers = std::map<std::string, Tensor>;

Status conv_from_node(const NodeProto& node, const Attrs& a, Initializers& init, Layer* l) {
  SQZ_RETURN_IF_ERROR(check_plain_geometry(node, a));
  SQZ_RETURN_ERROR_IF(node.input_size() < 2 || !init.count(node.input(1)), ErrorCode::kUnsupported,
                      who(node) + ": the weight must be an initializer");
  l->op = OpKind::kConvolution;
  l->weight = init.at(node.input(1));
  SQZ_RETURN_ERROR_IF(l->weight.shape.size() != 4, ErrorCode::kUnsupported,
                      who(node) + ": only 2-D convolution is supported");
  ConvParams& c = l->conv;
  c.out_channels = l->weight.shape[0];
  c.kernel_h = l->weight.shape[2];
  c.kernel_w = l->weight.shape[3];
  std::vector<int64_t> strides = a.ints("strides");
  if (!strides.empty()) c.stride_h = strides[0], c.stride_w = strides[1];
  SQZ_RETURN_IF_ERROR(symmetric_2d(node, a.ints("pads"), &c.pad_h, &c.pad_w));
  c.groups = a.i("group", 1);
  c.has_bias = node.input_size() >= 3 && !node.input(2).empty();
  if (c.has_bias) {
    SQZ_RETURN_ERROR_IF(!init.count(node.input(2)), ErrorCode::kUnsupported,
                        who(node) + ": the bias must be an initializer");
    l->bias = init.at(node.input(2));
  }
  l->inputs = {node.input(0)};
  return Status::ok();
}

Status pool_from_node(const NodeProto& node, const Attrs& a, Layer* l) {
  SQZ_RETURN_IF_ERROR(check_plain_geometry(node, a));
  SQZ_RETURN_ERROR_IF(a.i("storage_order", 0) != 0, ErrorCode::kUnsupported,
                      who(node) + ": storage_order");
  std::vector<int64_t> k = a.ints("kernel_shape"), s = a.ints("strides");
  SQZ_RETURN_ERROR_IF(k.size() != 2, ErrorCode::kCorrupt, who(node) + ": needs kernel_shape");
  PoolParams& p = l->pool;
  p.kernel_h = k[0], p.kernel_w = k[1];
  if (!s.empty()) p.stride_h = s[0], p.stride_w = s[1];
  SQZ_RETURN_IF_ERROR(symmetric_2d(node, a.ints("pads"), &p.pad_h, &p.pad_w));
  p.rounding = a.i("ceil_mode", 0) ? PoolRounding::kCeil : PoolRounding::kFloor;
  p.average_counts_padding = a.i("count_include_pad", 0) != 0;
  l->inputs = {node.input(0)};
  return Status::ok();
}

// Reshape to [N, -1] (or [0, -1]) at the head is a Flatten at axis 1.
Status reshape_as_flatten(const NodeProto& node, Initializers& init, Layer* l) {
  SQZ_RETURN_ERROR_IF(node.input_size() != 2 || !init.count(node.input(1)), ErrorCode::kUnsupported,
                      who(node) + ": the target shape must be a constant");
  const Tensor& shape = init.at(node.input(1));
  SQZ_RETURN_ERROR_IF(shape.data.size() != 2 || shape.data[1] != -1.0f, ErrorCode::kUnsupported,
                      who(node) + ": only a flattening reshape to [N, -1] is supported");
  l->op = OpKind::kFlatten;
  l->axis = 1;
  l->inputs = {node.input(0)};
  return Status::ok();
}

Status layer_from_node(const NodeProto& node, Initializers& init, Layer* l) {
  const Attrs a = attrs_of(node);
  const std::string& op = node.op_type();
  SQZ_RETURN_ERROR_IF(!node.domain().empty() && node.domain() != "ai.onnx", ErrorCode::kUnsupported,
                      who(node) + ": operator domain '" + node.domain() + "'");
  SQZ_RETURN_ERROR_IF(node.input_size() < 1 || node.output_size() < 1, ErrorCode::kCorrupt,
                      "a node has no input or output");
  l->name = node.name().empty() ? node.output(0) : node.name();
  l->output = node.output(0);
  l->inputs = {node.input(0)};
  if (op == "Conv") return conv_from_node(node, a, init, l);
  if (op == "MaxPool" || op == "AveragePool") {
    l->op = op == "MaxPool" ? OpKind::kMaxPool : OpKind::kAvgPool;
    return pool_from_node(node, a, l);
  }
  if (op == "GlobalAveragePool" || op == "GlobalMaxPool") {
    l->op = op == "GlobalMaxPool" ? OpKind::kMaxPool : OpKind::kAvgPool;
    l->pool.global = true;
    return Status::ok();
  }
  if (op == "Relu") return l->op = OpKind::kRelu, Status::ok();
  if (op == "Dropout") return l->op = OpKind::kDropout, Status::ok();
  if (op == "Concat") {
    l->op = OpKind::kConcat;
    l->axis = a.i("axis", 1);
    l->inputs.assign(node.input().begin(), node.input().end());
    return Status::ok();
  }
  if (op == "Softmax") {
    l->op = OpKind::kSoftmax;
    l->axis = a.i("axis", -1);
    return Status::ok();
  }
  if (op == "Flatten") {
    l->op = OpKind::kFlatten;
    l->axis = a.i("axis", 1);
    return Status::ok();
  }
  if (op == "Reshape") return reshape_as_flatten(node, init, l);
  return Status(ErrorCode::kUnsupported, who(node) + ": unsupported operator '" + op + "'");
}

Result<Model> model_from_graph(const onnx::GraphProto& g) {
  Initializers init;
  for (const TensorProto& t : g.initializer()) {
    SQZ_ASSIGN_OR_RETURN(init[t.name()], tensor_from_proto(t));
  }
  Model m;
  m.name = g.name();
  for (const onnx::ValueInfoProto& vi : g.input()) {
    if (init.count(vi.name())) continue;
    SQZ_RETURN_ERROR_IF(!m.input.empty(), ErrorCode::kUnsupported,
                        "only single-input networks are supported");
    m.input = vi.name();
    for (const auto& d : vi.type().tensor_type().shape().dim())
      m.input_shape.push_back(d.has_dim_value() ? d.dim_value() : 1);  // symbolic batch -> 1
  }
  SQZ_RETURN_ERROR_IF(m.input.empty(), ErrorCode::kCorrupt, "the graph declares no input");
  SQZ_RETURN_ERROR_IF(g.output_size() != 1, ErrorCode::kUnsupported,
                      "only single-output networks are supported");
  m.output = g.output(0).name();
  for (const NodeProto& node : g.node()) {
    if (node.op_type() == "Constant") {
      SQZ_RETURN_ERROR_IF(
          node.output_size() != 1 || node.attribute_size() != 1 || !node.attribute(0).has_t(),
          ErrorCode::kUnsupported, who(node) + ": only tensor constants");
      SQZ_ASSIGN_OR_RETURN(init[node.output(0)], tensor_from_proto(node.attribute(0).t()));
      continue;
    }
    Layer l;
    SQZ_RETURN_IF_ERROR(layer_from_node(node, init, &l));
    m.layers.push_back(std::move(l));
  }
  SQZ_RETURN_IF_ERROR(validate_and_infer(m).status());
  return m;
}

}  // namespace

Result<Model> import_onnx(const std::string& onnx_path) {
  SQZ_ASSIGN_OR_RETURN(std::string bytes, read_file(onnx_path));
  google::protobuf::io::CodedInputStream stream(reinterpret_cast<const uint8_t*>(bytes.data()),
                                                static_cast<int>(bytes.size()));
  stream.SetTotalBytesLimit(INT_MAX);
  onnx::ModelProto proto;
  if (!proto.ParseFromCodedStream(&stream) || !stream.ConsumedEntireMessage())
    return Status(ErrorCode::kParse, onnx_path + ": not a valid ONNX model (truncated or corrupt)");
  if (!proto.has_graph() || proto.graph().node_size() == 0)
    return Status(ErrorCode::kCorrupt, onnx_path + ": not an ONNX model (no graph)");
  Result<Model> m = model_from_graph(proto.graph());
  if (!m.is_ok()) return m.status().with_context(onnx_path);
  return m;
}

}  // namespace sqz::format
