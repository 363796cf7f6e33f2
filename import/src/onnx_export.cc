#include <sstream>

#include "onnx.pb.h"
#include "onnx_metadata.h"
#include "sqz/core/byte_io.h"
#include "sqz/import/exporters.h"
#include "sqz/import/importers.h"

namespace sqz::import {
namespace {

void add_ints(onnx::NodeProto* node, const char* name, std::initializer_list<int64_t> v) {
  onnx::AttributeProto* a = node->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t x : v) a->add_ints(x);
}

void add_int(onnx::NodeProto* node, const char* name, int64_t v) {
  onnx::AttributeProto* a = node->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(v);
}

void add_initializer(onnx::GraphProto* g, const std::string& name, const Tensor& t) {
  onnx::TensorProto* p = g->add_initializer();
  p->set_name(name);
  p->set_data_type(onnx::TensorProto::FLOAT);
  for (int64_t d : t.shape) p->add_dims(d);
  std::string raw;
  raw.reserve(t.data.size() * 4);
  for (float f : t.data) put_f32(&raw, f);
  p->set_raw_data(std::move(raw));
}

// The batch dimension is symbolic ("N"): the network takes any batch, as the runtime does.
void set_value_info(onnx::ValueInfoProto* vi, const std::string& name, const Shape& shape) {
  vi->set_name(name);
  auto* tt = vi->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(onnx::TensorProto::FLOAT);
  for (size_t i = 0; i < shape.size(); ++i) {
    auto* dim = tt->mutable_shape()->add_dim();
    if (i == 0) dim->set_dim_param("N");
    else dim->set_dim_value(shape[i]);
  }
}

void fill_conv(onnx::GraphProto* g, const Layer& l, onnx::NodeProto* node) {
  node->set_op_type("Conv");
  node->add_input(l.name + ".weight");
  add_initializer(g, l.name + ".weight", l.weight);
  if (l.conv.has_bias) {
    node->add_input(l.name + ".bias");
    add_initializer(g, l.name + ".bias", l.bias);
  }
  add_ints(node, "kernel_shape", {l.conv.kernel_h, l.conv.kernel_w});
  add_ints(node, "strides", {l.conv.stride_h, l.conv.stride_w});
  add_ints(node, "pads", {l.conv.pad_h, l.conv.pad_w, l.conv.pad_h + l.conv.extra_pad_h,
                          l.conv.pad_w + l.conv.extra_pad_w});
  add_int(node, "group", l.conv.groups);
}

void fill_pool(const Layer& l, onnx::NodeProto* node) {
  const bool max = l.op == OpKind::kMaxPool;
  if (l.pool.global) {
    node->set_op_type(max ? "GlobalMaxPool" : "GlobalAveragePool");
    return;
  }
  node->set_op_type(max ? "MaxPool" : "AveragePool");
  add_ints(node, "kernel_shape", {l.pool.kernel_h, l.pool.kernel_w});
  add_ints(node, "strides", {l.pool.stride_h, l.pool.stride_w});
  add_ints(node, "pads", {l.pool.pad_h, l.pool.pad_w, l.pool.pad_h + l.pool.extra_pad_h,
                          l.pool.pad_w + l.pool.extra_pad_w});
  add_int(node, "ceil_mode", l.pool.rounding == PoolRounding::kCeil);
  if (!max) add_int(node, "count_include_pad", l.pool.average_counts_padding);
}

Status add_node(onnx::GraphProto* g, const Layer& l) {
  onnx::NodeProto* node = g->add_node();
  node->set_name(l.name);
  for (const std::string& in : l.inputs) node->add_input(in);
  node->add_output(l.output);
  switch (l.op) {
    case OpKind::kConvolution:
      fill_conv(g, l, node);
      return Status::ok();
    case OpKind::kMaxPool:
    case OpKind::kAvgPool:
      fill_pool(l, node);
      return Status::ok();
    case OpKind::kRelu:
      node->set_op_type("Relu");
      return Status::ok();
    case OpKind::kDropout:
      node->set_op_type("Dropout");
      return Status::ok();
    case OpKind::kConcat:
      node->set_op_type("Concat");
      add_int(node, "axis", l.axis);
      return Status::ok();
    case OpKind::kSoftmax:
      node->set_op_type("Softmax");
      add_int(node, "axis", l.axis);
      return Status::ok();
    case OpKind::kFlatten:
      node->set_op_type("Flatten");
      add_int(node, "axis", l.axis);
      return Status::ok();
    case OpKind::kAdd:
      node->set_op_type(l.inputs.size() == 2 ? "Add" : "Sum");
      return Status::ok();
  }
  return Status(ErrorCode::kUnsupported, "layer '" + l.name + "' cannot be exported");
}

}  // namespace

Result<std::string> export_onnx(const Model& model, const format::Metadata& metadata) {
  Model m = model;
  for (Layer& l : m.layers) expand_codes(l);  // codes-only layers: the float32 weights
  SQZ_ASSIGN_OR_RETURN(auto shapes, validate_and_infer(m));
  onnx::ModelProto proto;
  proto.set_ir_version(7);
  proto.set_producer_name("squeeze-compress");
  proto.add_opset_import()->set_version(13);
  std::string calibration;
  for (const auto& [key, value] : metadata) {
    if (key == "calibration_images_crc32c") {  // its CRCs only, as import_onnx reads them
      std::istringstream in(value);
      for (std::string t; in >> t;)
        if (t.size() == 8 && detail::is_crc_token(t, 0))
          calibration += (calibration.empty() ? "" : " ") + t;
    }
    if (key != "preprocess") continue;
    auto* prop = proto.add_metadata_props();
    prop->set_key(kOnnxPreprocessKey);
    prop->set_value(value);
  }
  if (!calibration.empty()) {  // one entry: ONNX wants metadata keys unique
    auto* prop = proto.add_metadata_props();
    prop->set_key(kOnnxCalibrationKey);
    prop->set_value(calibration);
  }
  onnx::GraphProto* g = proto.mutable_graph();
  g->set_name(m.name.empty() ? "squeeze-compress" : m.name);
  for (const Layer& l : m.layers) SQZ_RETURN_IF_ERROR(add_node(g, l));
  set_value_info(g->add_input(), m.input, m.input_shape);
  set_value_info(g->add_output(), m.output, shapes.at(m.output));
  std::string out;
  if (!proto.SerializeToString(&out))
    return Status(ErrorCode::kLimit, "the model is too large for a single ONNX protobuf (2 GB)");
  return out;
}

}  // namespace sqz::import
