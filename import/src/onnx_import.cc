// ONNX (onnx/onnx docs/Operators.md) to the shared Model: the operators SqueezeNet exports use,
// every attribute honoured or refused by name. Nodes are taken in the graph's topological
// order (the ONNX spec requires it) with shapes known as they go, so that auto_pad, legacy
// Softmax and Reshape can be checked against the real shapes; Identity is dropped and
// BatchNormalization folded into the convolution before it.
#include <google/protobuf/io/coded_stream.h>

#include <climits>
#include <cmath>
#include <map>

#include "fold.h"
#include "onnx.pb.h"
#include "onnx_metadata.h"
#include "onnx_tensor.h"
#include "sqz/core/file_io.h"
#include "sqz/import/importers.h"

namespace sqz::import {
namespace {

using onnx::AttributeProto;
using onnx::NodeProto;
using onnx::TensorProto;
using detail::Initializers;

struct Attrs {
  std::map<std::string, const AttributeProto*> by_name;
  bool has(const std::string& n) const { return by_name.count(n) > 0; }
  int64_t i(const std::string& n, int64_t def) const {
    auto it = by_name.find(n);
    return it == by_name.end() ? def : it->second->i();
  }
  float f(const std::string& n, float def) const {
    auto it = by_name.find(n);
    return it == by_name.end() ? def : it->second->f();
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

std::string who(const NodeProto& node) {
  return "node '" + (node.name().empty() ? node.output(0) : node.name()) + "' (" + node.op_type() +
         ")";
}

Status refuse(const NodeProto& node, const std::string& what) {
  return Status(ErrorCode::kUnsupported, who(node) + ": " + what);
}

// Refuses every attribute of node that is not in `known`.
Status only_attributes(const NodeProto& node, std::initializer_list<const char*> known) {
  for (const AttributeProto& a : node.attribute()) {
    bool ok = false;
    for (const char* k : known) ok |= a.name() == k;
    if (!ok) return refuse(node, "attribute '" + a.name() + "' is not supported");
  }
  return Status::ok();
}

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

// kernel, strides, pads, auto_pad and dilations of a Conv or pooling node, for input (N,C,H,W).
struct Window {
  int64_t kh = 1, kw = 1, sh = 1, sw = 1, ph = 0, pw = 0, eh = 0, ew = 0;
};

Status read_window(const NodeProto& node, const Attrs& a, const Shape& in, Window* w) {
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

class Builder {
 public:
  Builder(const onnx::GraphProto& g, int64_t opset) : g_(g), opset_(opset) {}
  Result<Model> build(const ImportOptions& options);

 private:
  Status read_input(const ImportOptions& options);
  Status add_node(const NodeProto& node);
  Status push(Layer l);
  Status add_conv(const NodeProto& node, const Attrs& a, Layer l);
  Status add_pool(const NodeProto& node, const Attrs& a, Layer l);
  Status add_batchnorm(const NodeProto& node, const Attrs& a);
  Status add_softmax(const NodeProto& node, const Attrs& a, Layer l);
  Status add_reshape(const NodeProto& node, Layer l);
  Status add_layer(const NodeProto& node, const Attrs& a, Layer l);
  Status add_sum(const NodeProto& node, Layer l);
  Status add_plain(const NodeProto& node, const Attrs& a, Layer l);
  std::string resolve(const std::string& blob) const {
    auto it = alias_.find(blob);
    return it == alias_.end() ? blob : it->second;
  }
  const Shape& shape(const NodeProto& node, const std::string& blob) const;
  Result<const Tensor*> constant(const NodeProto& node, int i, const char* what) const;

  const onnx::GraphProto& g_;
  int64_t opset_;
  Model m_;
  Initializers init_;
  std::map<std::string, std::string> alias_;  // dropped nodes' outputs -> the blob they equal
  std::map<std::string, Shape> shapes_;
  std::map<std::string, size_t> producer_;
  std::map<std::string, int> consumers_;
};

const Shape& Builder::shape(const NodeProto&, const std::string& blob) const {
  return shapes_.at(resolve(blob));
}

Result<const Tensor*> Builder::constant(const NodeProto& node, int i, const char* what) const {
  SQZ_RETURN_ERROR_IF(node.input_size() <= i || !init_.count(node.input(i)),
                      ErrorCode::kUnsupported,
                      who(node) + ": the " + what + " must be a constant (an initializer)");
  return &init_.at(node.input(i));
}

Status Builder::push(Layer l) {
  std::vector<Shape> ins;
  for (std::string& in : l.inputs) {
    in = resolve(in);
    SQZ_RETURN_ERROR_IF(!shapes_.count(in), ErrorCode::kCorrupt,
                        "layer '" + l.name + "' reads blob '" + in +
                            "' before any node makes it (the graph is not topologically sorted)");
    ins.push_back(shapes_.at(in));
  }
  SQZ_ASSIGN_OR_RETURN(Shape out, infer_layer_shape(l, ins));
  SQZ_RETURN_ERROR_IF(shapes_.count(l.output), ErrorCode::kCorrupt,
                      "blob '" + l.output + "' is produced twice");
  shapes_[l.output] = out;
  producer_[l.output] = m_.layers.size();
  m_.layers.push_back(std::move(l));
  return Status::ok();
}

Status Builder::add_conv(const NodeProto& node, const Attrs& a, Layer l) {
  SQZ_RETURN_IF_ERROR(
      only_attributes(node, {"kernel_shape", "strides", "pads", "auto_pad", "dilations", "group"}));
  SQZ_ASSIGN_OR_RETURN(const Tensor* w, constant(node, 1, "weight"));
  SQZ_RETURN_ERROR_IF(w->shape.size() != 4, ErrorCode::kUnsupported,
                      who(node) + ": only 2-D convolution is supported");
  l.op = OpKind::kConvolution;
  l.weight = *w;
  Window win;
  win.kh = w->shape[2], win.kw = w->shape[3];
  SQZ_RETURN_IF_ERROR(read_window(node, a, shape(node, node.input(0)), &win));
  SQZ_RETURN_ERROR_IF(win.kh != w->shape[2] || win.kw != w->shape[3], ErrorCode::kCorrupt,
                      who(node) + ": kernel_shape disagrees with the weight's shape");
  ConvParams& c = l.conv;
  c.out_channels = w->shape[0];
  c.kernel_h = win.kh, c.kernel_w = win.kw, c.stride_h = win.sh, c.stride_w = win.sw;
  c.pad_h = win.ph, c.pad_w = win.pw, c.extra_pad_h = win.eh, c.extra_pad_w = win.ew;
  c.groups = a.i("group", 1);
  if (node.input_size() >= 3 && !node.input(2).empty()) {
    SQZ_ASSIGN_OR_RETURN(const Tensor* b, constant(node, 2, "bias"));
    l.bias = *b;
  } else {
    detail::add_zero_bias(l);
  }
  return push(std::move(l));
}

Status Builder::add_pool(const NodeProto& node, const Attrs& a, Layer l) {
  SQZ_RETURN_IF_ERROR(only_attributes(node, {"kernel_shape", "strides", "pads", "auto_pad",
                                             "dilations", "ceil_mode", "count_include_pad",
                                             "storage_order"}));
  if (a.i("storage_order", 0) != 0) return refuse(node, "storage_order 1 is not supported");
  SQZ_RETURN_ERROR_IF(a.ints("kernel_shape").size() != 2, ErrorCode::kCorrupt,
                      who(node) + ": needs a 2-D kernel_shape");
  Window win;
  SQZ_RETURN_IF_ERROR(read_window(node, a, shape(node, node.input(0)), &win));
  PoolParams& p = l.pool;
  p.kernel_h = win.kh, p.kernel_w = win.kw, p.stride_h = win.sh, p.stride_w = win.sw;
  p.pad_h = win.ph, p.pad_w = win.pw, p.extra_pad_h = win.eh, p.extra_pad_w = win.ew;
  p.rounding = a.i("ceil_mode", 0) ? PoolRounding::kCeil : PoolRounding::kFloor;
  p.average_counts_padding = a.i("count_include_pad", 0) != 0;
  // Exporters without ceil_mode (opset < 10) write ceil-mode max pooling as extra end pads.
  // For max pooling the two are the same computation whenever they give the same size (no
  // window starts in the padding either way): keep the native form, which Caffe can express.
  const Shape& in = shape(node, node.input(0));
  if (l.op == OpKind::kMaxPool && p.rounding == PoolRounding::kFloor && p.extra_pad_h >= 0 &&
      p.extra_pad_w >= 0 && (p.extra_pad_h > 0 || p.extra_pad_w > 0) &&
      pooled_size(in[2], p.kernel_h, p.stride_h, p.pad_h, PoolRounding::kFloor, p.extra_pad_h) ==
          pooled_size(in[2], p.kernel_h, p.stride_h, p.pad_h, PoolRounding::kCeil) &&
      pooled_size(in[3], p.kernel_w, p.stride_w, p.pad_w, PoolRounding::kFloor, p.extra_pad_w) ==
          pooled_size(in[3], p.kernel_w, p.stride_w, p.pad_w, PoolRounding::kCeil)) {
    p.rounding = PoolRounding::kCeil;
    p.extra_pad_h = p.extra_pad_w = 0;
  }
  return push(std::move(l));
}

// BatchNormalization (inference): folded into the convolution that makes its input, when
// nothing else reads that convolution's output.
Status Builder::add_batchnorm(const NodeProto& node, const Attrs& a) {
  SQZ_RETURN_IF_ERROR(only_attributes(node, {"epsilon", "momentum", "training_mode", "spatial"}));
  if (a.i("training_mode", 0) != 0) return refuse(node, "training_mode 1");
  if (a.i("spatial", 1) != 1) return refuse(node, "spatial 0");
  SQZ_RETURN_ERROR_IF(node.input_size() != 5, ErrorCode::kCorrupt,
                      who(node) + ": needs X, scale, B, mean and var");
  detail::BatchNormParams bn;
  std::vector<float>* parts[] = {&bn.scale, &bn.bias, &bn.mean, &bn.var};
  const char* names[] = {"scale", "B", "mean", "var"};
  for (int i = 0; i < 4; ++i) {
    SQZ_ASSIGN_OR_RETURN(const Tensor* t, constant(node, i + 1, names[i]));
    *parts[i] = t->data;
  }
  bn.epsilon = a.f("epsilon", 1e-5f);
  const std::string x = resolve(node.input(0));
  auto p = producer_.find(x);
  const bool foldable = p != producer_.end() && m_.layers[p->second].op == OpKind::kConvolution &&
                        consumers_[x] == 1 && x != g_.output(0).name();
  if (!foldable)
    return refuse(node, "only a BatchNormalization right after a convolution (that nothing "
                        "else reads) can be folded; this one cannot");
  SQZ_RETURN_IF_ERROR(detail::fold_batchnorm(m_.layers[p->second], bn, who(node)));
  alias_[node.output(0)] = x;
  return Status::ok();
}

// Softmax: opset 13 normalizes along `axis` (default -1); before 13 over the dimensions from
// `axis` on flattened (default 1), which is the same when all but the first of them are 1.
Status Builder::add_softmax(const NodeProto& node, const Attrs& a, Layer l) {
  SQZ_RETURN_IF_ERROR(only_attributes(node, {"axis"}));
  const Shape& in = shape(node, node.input(0));
  const auto rank = static_cast<int64_t>(in.size());
  int64_t axis = a.i("axis", opset_ >= 13 ? -1 : 1);
  if (axis < 0) axis += rank;
  SQZ_RETURN_ERROR_IF(axis < 0 || axis >= rank, ErrorCode::kCorrupt,
                      who(node) + ": axis out of range for input " + shape_to_string(in));
  if (opset_ < 13)
    for (int64_t d = axis + 1; d < rank; ++d)
      if (in[static_cast<size_t>(d)] != 1)
        return refuse(node, "Softmax over flattened dimensions (opset < 13) of " +
                                shape_to_string(in) + " at axis " + std::to_string(axis));
  l.op = OpKind::kSoftmax;
  l.axis = axis;
  return push(std::move(l));
}

// Reshape at the head: only the flattening [N, -1] (N: 0, -1 or the batch) or [N, C*H*W].
Status Builder::add_reshape(const NodeProto& node, Layer l) {
  SQZ_RETURN_IF_ERROR(only_attributes(node, {"allowzero"}));
  SQZ_ASSIGN_OR_RETURN(const Tensor* target, constant(node, 1, "target shape"));
  const Shape& in = shape(node, node.input(0));
  const int64_t rest = shape_numel(in) / std::max<int64_t>(in[0], 1);
  const std::vector<float>& t = target->data;
  const bool flat = t.size() == 2 && (t[0] == 0 || t[0] == -1 || t[0] == in[0]) &&
                    (t[1] == -1 || t[1] == rest) && !(t[0] == -1 && t[1] == -1);
  if (!flat) {
    std::string s;
    for (float v : t) s += (s.empty() ? "" : ", ") + std::to_string(static_cast<int64_t>(v));
    return refuse(node, "Reshape to [" + s + "] is not supported (only flattening to [N, -1])");
  }
  l.op = OpKind::kFlatten;
  l.axis = 1;
  l.inputs = {node.input(0)};
  return push(std::move(l));
}

Status Builder::add_node(const NodeProto& node) {
  const Attrs a = [&] {
    Attrs at;
    for (const AttributeProto& x : node.attribute()) at.by_name[x.name()] = &x;
    return at;
  }();
  const std::string& op = node.op_type();
  SQZ_RETURN_ERROR_IF(!node.domain().empty() && node.domain() != "ai.onnx", ErrorCode::kUnsupported,
                      who(node) + ": operator domain '" + node.domain() + "'");
  SQZ_RETURN_ERROR_IF(node.input_size() < 1 || node.output_size() < 1, ErrorCode::kCorrupt,
                      "a node has no input or output");
  if (op == "Constant") {
    SQZ_RETURN_ERROR_IF(
        node.output_size() != 1 || node.attribute_size() != 1 || !node.attribute(0).has_t(),
        ErrorCode::kUnsupported, who(node) + ": only tensor constants");
    SQZ_ASSIGN_OR_RETURN(init_[node.output(0)], detail::tensor_from_proto(node.attribute(0).t()));
    return Status::ok();
  }
  if (op == "Identity") {
    alias_[node.output(0)] = resolve(node.input(0));
    return Status::ok();
  }
  if (op == "BatchNormalization") return add_batchnorm(node, a);
  Layer l;
  l.name = node.name().empty() ? node.output(0) : node.name();
  l.output = node.output(0);
  l.inputs = {node.input(0)};
  SQZ_RETURN_ERROR_IF(!shapes_.count(resolve(node.input(0))) && !init_.count(node.input(0)),
                      ErrorCode::kCorrupt,
                      who(node) + " reads '" + node.input(0) +
                          "' before any node makes it (the graph is not topologically sorted)");
  return add_layer(node, a, std::move(l));
}

// The operators that become one layer each; l has the node's name, output and first input.
Status Builder::add_layer(const NodeProto& node, const Attrs& a, Layer l) {
  const std::string& op = node.op_type();
  if (op == "Conv") return add_conv(node, a, std::move(l));
  if (op == "MaxPool" || op == "AveragePool") {
    l.op = op == "MaxPool" ? OpKind::kMaxPool : OpKind::kAvgPool;
    return add_pool(node, a, std::move(l));
  }
  if (op == "Add" || op == "Sum") return add_sum(node, std::move(l));
  if (op == "Softmax") return add_softmax(node, a, std::move(l));
  if (op == "Reshape") return add_reshape(node, std::move(l));
  return add_plain(node, a, std::move(l));
}

Status Builder::add_sum(const NodeProto& node, Layer l) {
  SQZ_RETURN_IF_ERROR(only_attributes(node, {}));
  SQZ_RETURN_ERROR_IF(node.input_size() < 2, ErrorCode::kCorrupt, who(node) + ": needs 2 inputs");
  for (const std::string& in : node.input())
    if (init_.count(in)) return refuse(node, "adding a constant is not supported");
  l.op = OpKind::kAdd;
  l.inputs.assign(node.input().begin(), node.input().end());
  return push(std::move(l));
}

// Operators with at most an axis to read: global pooling, ReLU, dropout, concat, flatten.
Status Builder::add_plain(const NodeProto& node, const Attrs& a, Layer l) {
  const std::string& op = node.op_type();
  if (op == "GlobalAveragePool" || op == "GlobalMaxPool") {
    SQZ_RETURN_IF_ERROR(only_attributes(node, {}));
    l.op = op == "GlobalMaxPool" ? OpKind::kMaxPool : OpKind::kAvgPool;
    l.pool.global = true;
  } else if (op == "Relu") {
    SQZ_RETURN_IF_ERROR(only_attributes(node, {}));
    l.op = OpKind::kRelu;
  } else if (op == "Dropout") {
    SQZ_RETURN_IF_ERROR(only_attributes(node, {"ratio", "seed", "is_test"}));
    l.op = OpKind::kDropout;
  } else if (op == "Concat") {
    SQZ_RETURN_IF_ERROR(only_attributes(node, {"axis"}));
    l.op = OpKind::kConcat;
    l.axis = a.i("axis", 1);
    l.inputs.assign(node.input().begin(), node.input().end());
  } else if (op == "Flatten") {
    SQZ_RETURN_IF_ERROR(only_attributes(node, {"axis"}));
    l.op = OpKind::kFlatten;
    l.axis = a.i("axis", 1);
  } else {
    return refuse(node, "unsupported operator '" + op + "'");
  }
  return push(std::move(l));
}

// The graph's one input; dimensions the file leaves symbolic come from options.input_shape
// (the batch defaults to 1).
Status Builder::read_input(const ImportOptions& options) {
  for (const onnx::ValueInfoProto& vi : g_.input()) {
    if (init_.count(vi.name())) continue;
    SQZ_RETURN_ERROR_IF(!m_.input.empty(), ErrorCode::kUnsupported,
                        "only single-input networks are supported");
    m_.input = vi.name();
    const auto& dims = vi.type().tensor_type().shape().dim();
    SQZ_RETURN_ERROR_IF(dims.size() != 4, ErrorCode::kUnsupported,
                        "input '" + m_.input + "' must be 4-D NCHW");
    const Shape& want = options.input_shape;
    SQZ_RETURN_ERROR_IF(!want.empty() && want.size() != 4, ErrorCode::kInvalidArgument,
                        "the input shape must be N,C,H,W");
    for (int d = 0; d < 4; ++d) {
      const bool fixed = dims[d].has_dim_value() && dims[d].dim_value() > 0;
      int64_t v = fixed ? dims[d].dim_value() : (want.empty() ? (d == 0 ? 1 : -1) : want[d]);
      if (!want.empty() && d > 0) {
        SQZ_RETURN_ERROR_IF(fixed && v != want[d], ErrorCode::kInvalidArgument,
                            "input '" + m_.input + "' is " + std::to_string(v) + " in dimension " +
                                std::to_string(d) + ", not " + std::to_string(want[d]));
      }
      if (d == 0 && !want.empty()) v = want[0];
      SQZ_RETURN_ERROR_IF(v < 1, ErrorCode::kInvalidArgument,
                          "input '" + m_.input + "' has symbolic " +
                              (d == 1 ? "channels" : "height/width") +
                              "; give the shape (`input_shape` 1,3,224,224)");
      m_.input_shape.push_back(v);
    }
  }
  SQZ_RETURN_ERROR_IF(m_.input.empty(), ErrorCode::kCorrupt, "the graph declares no input");
  shapes_[m_.input] = m_.input_shape;
  return Status::ok();
}

Result<Model> Builder::build(const ImportOptions& options) {
  for (const TensorProto& t : g_.initializer()) {
    SQZ_ASSIGN_OR_RETURN(init_[t.name()], detail::tensor_from_proto(t));
  }
  m_.name = g_.name();
  SQZ_RETURN_IF_ERROR(read_input(options));
  SQZ_RETURN_ERROR_IF(g_.output_size() != 1, ErrorCode::kUnsupported,
                      "only single-output networks are supported");
  for (const NodeProto& node : g_.node())
    for (const std::string& in : node.input()) consumers_[in]++;
  for (const NodeProto& node : g_.node()) SQZ_RETURN_IF_ERROR(add_node(node));
  m_.output = resolve(g_.output(0).name());
  SQZ_RETURN_ERROR_IF(m_.output == m_.input, ErrorCode::kUnsupported,
                      "the graph's output is its input");
  SQZ_RETURN_IF_ERROR(validate_and_infer(m_).status());
  return std::move(m_);
}

// The default-domain opset the model imports (1 when it names none).
int64_t onnx_opset(const onnx::ModelProto& proto) {
  for (const auto& o : proto.opset_import())
    if (o.domain().empty() || o.domain() == "ai.onnx") return o.version();
  return 1;
}

}  // namespace

Result<Model> import_onnx(const std::string& onnx_path, const ImportOptions& options,
                          format::Metadata* metadata) {
  SQZ_ASSIGN_OR_RETURN(std::string bytes, read_file(onnx_path));
  google::protobuf::io::CodedInputStream stream(reinterpret_cast<const uint8_t*>(bytes.data()),
                                                static_cast<int>(bytes.size()));
  stream.SetTotalBytesLimit(INT_MAX);
  onnx::ModelProto proto;
  if (!proto.ParseFromCodedStream(&stream) || !stream.ConsumedEntireMessage())
    return Status(ErrorCode::kParse, onnx_path + ": not a valid ONNX model (truncated or corrupt)");
  if (!proto.has_graph() || proto.graph().node_size() == 0)
    return Status(ErrorCode::kCorrupt, onnx_path + ": not an ONNX model (no graph)");
  if (proto.graph().node_size() > kMaxLayers)
    return Status(ErrorCode::kLimit, onnx_path + ": " + std::to_string(proto.graph().node_size()) +
                                         " nodes is more than the limit of " +
                                         std::to_string(kMaxLayers));
  if (metadata) {
    metadata->clear();
    for (const auto& p : proto.metadata_props()) {
      if (p.key() == kOnnxPreprocessKey) metadata->push_back({"preprocess", p.value()});
      if (p.key() != kOnnxCalibrationKey) continue;
      if (p.value().size() > kMaxOnnxCalibrationBytes)
        return Status(ErrorCode::kLimit, onnx_path + ": metadata '" + kOnnxCalibrationKey +
                                             "' is longer than " +
                                             std::to_string(kMaxOnnxCalibrationBytes) + " bytes");
      if (!detail::is_crc_list(p.value()))
        return Status(ErrorCode::kCorrupt, onnx_path + ": metadata '" + kOnnxCalibrationKey +
                                               "' is not a list of CRC32C (8 hex digits each, "
                                               "separated by spaces)");
      metadata->push_back({"calibration_images_crc32c", p.value()});
    }
  }
  Builder b(proto.graph(), onnx_opset(proto));
  Result<Model> m = b.build(options);
  if (!m.is_ok()) return m.status().with_context(onnx_path);
  return m;
}

}  // namespace sqz::import
