// ONNX (onnx/onnx docs/Operators.md) to the shared Model: the operators SqueezeNet exports use,
// every attribute honoured or refused by name. Nodes are taken in the graph's topological
// order (the ONNX spec requires it) with shapes known as they go, so that auto_pad, legacy
// Softmax and Reshape can be checked against the real shapes; Identity is dropped and
// BatchNormalization folded into the convolution before it.
#include <google/protobuf/io/coded_stream.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <map>

#include "fold.h"
#include "onnx.pb.h"
#include "onnx_metadata.h"
#include "onnx_node.h"
#include "onnx_shape_fold.h"
#include "onnx_tensor.h"
#include "sqz/core/file_io.h"
#include "sqz/import/importers.h"

namespace sqz::import {
namespace {

using onnx::NodeProto;
using onnx::TensorProto;
using detail::Attrs;
using detail::Initializers;
using detail::only_attributes;
using detail::Window;
using detail::read_window;
using detail::refuse;
using detail::who;

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
  Status add_squeeze(const NodeProto& node, const Attrs& a, Layer l);
  Status add_reduce(const NodeProto& node, const Attrs& a, Layer l);
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
  detail::ShapeFolder shape_values_;
  std::map<std::string, Shape> partly_squeezed_;  // [N, C, 1] blobs (see add_squeeze)
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
  // Training mode: the attribute (opset 14), or the running statistics as outputs (before).
  const bool training = a.i("training_mode", 0) != 0 ||
                        (node.output_size() > 1 && !node.output(1).empty());
  if (training) return refuse(node, "training mode (export the model in eval mode)");
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

// Reshape at the head: only the flattening [N, -1] (N: 0, -1, the batch, or the batch as the
// exporter computes it from Shape) or [N, C*H*W].
Status Builder::add_reshape(const NodeProto& node, Layer l) {
  SQZ_RETURN_IF_ERROR(only_attributes(node, {"allowzero"}));
  SQZ_RETURN_ERROR_IF(node.input_size() != 2, ErrorCode::kCorrupt, who(node) + ": needs 2 inputs");
  std::vector<int64_t> t;
  if (const auto* folded = shape_values_.value(node.input(1))) {
    t = *folded;
  } else {
    SQZ_ASSIGN_OR_RETURN(t, detail::integers_of(node, init_, node.input(1), "target shape"));
  }
  const Shape& in = shape(node, node.input(0));
  const int64_t rest = shape_numel(in) / std::max<int64_t>(in[0], 1);
  const int64_t batch = detail::kSymbolicBatch;
  const bool flat = t.size() == 2 && (t[0] == 0 || t[0] == -1 || t[0] == in[0] || t[0] == batch) &&
                    (t[1] == -1 || t[1] == rest) && !(t[0] == -1 && t[1] == -1);
  if (!flat) {
    std::string s;
    for (int64_t v : t) s += (s.empty() ? "" : ", ") + (v == batch ? "N" : std::to_string(v));
    return refuse(node, "Reshape to [" + s + "] is not supported (only flattening to [N, -1])");
  }
  l.op = OpKind::kFlatten;
  l.axis = 1;
  l.inputs = {node.input(0)};
  return push(std::move(l));
}

Status Builder::add_node(const NodeProto& node) {
  const Attrs a(node);
  const std::string& op = node.op_type();
  SQZ_RETURN_ERROR_IF(node.output_size() < 1 || node.output(0).empty(), ErrorCode::kCorrupt,
                      "a node of type '" + op.substr(0, 64) + "' has no output");
  SQZ_RETURN_ERROR_IF(!node.domain().empty() && node.domain() != "ai.onnx", ErrorCode::kUnsupported,
                      who(node) + ": operator domain '" + node.domain() + "'");
  if (op == "Constant") {  // the one operator without inputs
    SQZ_RETURN_ERROR_IF(
        node.output_size() != 1 || node.attribute_size() != 1 || !node.attribute(0).has_t(),
        ErrorCode::kUnsupported, who(node) + ": only tensor constants");
    SQZ_RETURN_ERROR_IF(init_.count(node.output(0)), ErrorCode::kCorrupt,
                        "blob '" + node.output(0) + "' is produced twice");
    onnx::TensorProto t = node.attribute(0).t();  // small: shapes, axes, flags
    if (t.name().empty()) t.set_name(node.output(0));  // errors name the blob
    SQZ_ASSIGN_OR_RETURN(init_[node.output(0)], detail::tensor_from_proto(t));
    return Status::ok();
  }
  SQZ_RETURN_ERROR_IF(node.input_size() < 1 || node.input(0).empty(), ErrorCode::kCorrupt,
                      who(node) + " has no input");
  for (const std::string& in : node.input())
    if (partly_squeezed_.count(in) && op != "Squeeze")
      return refuse(node, "reads '" + in + "', a partly squeezed 3-D tensor");
  auto shape_of = [&](const std::string& blob) -> const Shape* {
    auto it = shapes_.find(resolve(blob));
    return it == shapes_.end() ? nullptr : &it->second;
  };
  SQZ_ASSIGN_OR_RETURN(const bool folded, shape_values_.fold(node, opset_, init_, shape_of));
  if (folded) return Status::ok();
  if (op == "Identity") {
    alias_[node.output(0)] = resolve(node.input(0));
    return Status::ok();
  }
  if (op == "BatchNormalization") return add_batchnorm(node, a);
  Layer l;
  l.name = node.name().empty() ? node.output(0) : node.name();
  l.output = node.output(0);
  l.inputs = {node.input(0)};
  if (init_.count(node.input(0)) || shape_values_.value(node.input(0)))
    return refuse(node, "its data input '" + node.input(0) + "' is a constant or a shape");
  SQZ_RETURN_ERROR_IF(!shapes_.count(resolve(node.input(0))), ErrorCode::kCorrupt,
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
  if (op == "Squeeze") return add_squeeze(node, a, std::move(l));
  if (op == "ReduceMean" || op == "ReduceMax") return add_reduce(node, a, std::move(l));
  return add_plain(node, a, std::move(l));
}

// Squeeze of the 1x1 planes after global pooling ([N, C, 1, 1] -> [N, C]): a flattening. One
// plane at a time (x.squeeze(-1).squeeze(-1)) leaves [N, C, 1] between the two, which no layer
// takes: that blob stands for its 4-D input until the second Squeeze, and nothing else may
// read it.
Status Builder::add_squeeze(const NodeProto& node, const Attrs& a, Layer l) {
  SQZ_RETURN_IF_ERROR(only_attributes(node, {"axes"}));
  const auto partial = partly_squeezed_.find(node.input(0));
  const Shape in = partial != partly_squeezed_.end() ? partial->second : shape(node, node.input(0));
  const auto rank = static_cast<int64_t>(in.size());
  SQZ_ASSIGN_OR_RETURN(std::vector<int64_t> axes,
                       detail::axes_of(node, a, opset_, 13, init_, rank));
  if (axes.empty())  // every dimension of size 1: the planes (the batch is not known to be 1)
    for (int64_t d = 2; d < rank; ++d)
      if (in[static_cast<size_t>(d)] == 1) axes.push_back(d);
  Shape out;
  for (int64_t d = 0; d < rank; ++d)
    if (std::find(axes.begin(), axes.end(), d) == axes.end()) out.push_back(in[static_cast<size_t>(d)]);
  bool planes_only = !axes.empty() && rank >= 3;
  for (int64_t d : axes) planes_only &= d >= 2 && in[static_cast<size_t>(d)] == 1;
  if (!planes_only || out.size() < 2)
    return refuse(node, "Squeeze of " + shape_to_string(in) +
                            " is supported only for the 1x1 planes after global pooling");
  if (out.size() == 3) {
    partly_squeezed_[node.output(0)] = out;
    alias_[node.output(0)] = resolve(node.input(0));
    return Status::ok();
  }
  l.op = OpKind::kFlatten;
  l.axis = 1;
  return push(std::move(l));
}

// ReduceMean / ReduceMax over H and W (x.mean((2, 3)) in PyTorch): global pooling, then a
// flattening unless keepdims.
Status Builder::add_reduce(const NodeProto& node, const Attrs& a, Layer l) {
  SQZ_RETURN_IF_ERROR(only_attributes(node, {"axes", "keepdims", "noop_with_empty_axes"}));
  const Shape& in = shape(node, node.input(0));
  const auto rank = static_cast<int64_t>(in.size());
  SQZ_ASSIGN_OR_RETURN(std::vector<int64_t> axes, detail::axes_of(node, a, opset_, 18, init_, rank));
  std::sort(axes.begin(), axes.end());
  if (rank != 4 || axes != std::vector<int64_t>{2, 3})
    return refuse(node, node.op_type() + " of " + shape_to_string(in) +
                            " is supported only over axes 2 and 3 (global pooling)");
  const bool keep = a.i("keepdims", 1) != 0;
  Layer pool = l;
  pool.op = node.op_type() == "ReduceMax" ? OpKind::kMaxPool : OpKind::kAvgPool;
  pool.pool.global = true;
  if (keep) return push(std::move(pool));
  pool.output = l.output + "/global_pool";
  pool.name = l.name + "/global_pool";
  SQZ_RETURN_IF_ERROR(push(std::move(pool)));
  l.op = OpKind::kFlatten;
  l.axis = 1;
  l.inputs = {l.output + "/global_pool"};
  return push(std::move(l));
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
    // Opset 12's training_mode input: true drops at random, which no inference does.
    if (node.input_size() > 2 && !node.input(2).empty()) {
      SQZ_ASSIGN_OR_RETURN(std::vector<int64_t> mode,
                           detail::integers_of(node, init_, node.input(2), "training_mode"));
      if (mode.size() != 1 || mode[0] != 0)
        return refuse(node, "training mode (export the model in eval mode)");
    }
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
  SQZ_RETURN_ERROR_IF(partly_squeezed_.count(g_.output(0).name()), ErrorCode::kUnsupported,
                      "the graph's output '" + g_.output(0).name() + "' is 3-D");
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
  if (metadata) SQZ_RETURN_IF_ERROR(detail::read_onnx_metadata(proto, onnx_path, metadata));
  Builder b(proto.graph(), onnx_opset(proto));
  Result<Model> m = b.build(options);
  if (!m.is_ok()) return m.status().with_context(onnx_path);
  return m;
}

}  // namespace sqz::import
