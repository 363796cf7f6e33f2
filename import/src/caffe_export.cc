#include <google/protobuf/text_format.h>

#include <map>

#include "caffe.pb.h"
#include "sqz/import/exporters.h"

namespace sqz::import {
namespace {

// Caffe blob names: the Caffe importer renames an in-place output "top@layer" (its producing
// layer's name after the '@'), and Caffe can keep it in place, so exactly that suffix is
// removed again; a name that merely contains '@' is kept whole.
using Producers = std::map<std::string, std::string>;  // blob -> the layer that writes it

std::string caffe_blob(const std::string& name, const Producers& producer) {
  auto it = producer.find(name);
  if (it == producer.end()) return name;
  const std::string suffix = "@" + it->second;
  const bool renamed = name.size() > suffix.size() &&
                       name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  return renamed ? name.substr(0, name.size() - suffix.size()) : name;
}

Status fill_convolution(const Layer& l, bool with_blobs, caffe::LayerParameter* lp) {
  SQZ_RETURN_ERROR_IF(l.conv.extra_pad_h != 0 || l.conv.extra_pad_w != 0, ErrorCode::kUnsupported,
                      "layer '" + l.name + "': Caffe has no asymmetric padding");
  lp->set_type("Convolution");
  auto* p = lp->mutable_convolution_param();
  p->set_num_output(static_cast<uint32_t>(l.conv.out_channels));
  p->set_bias_term(l.conv.has_bias);
  p->set_kernel_h(static_cast<uint32_t>(l.conv.kernel_h));
  p->set_kernel_w(static_cast<uint32_t>(l.conv.kernel_w));
  p->set_stride_h(static_cast<uint32_t>(l.conv.stride_h));
  p->set_stride_w(static_cast<uint32_t>(l.conv.stride_w));
  p->set_pad_h(static_cast<uint32_t>(l.conv.pad_h));
  p->set_pad_w(static_cast<uint32_t>(l.conv.pad_w));
  if (l.conv.groups != 1) p->set_group(static_cast<uint32_t>(l.conv.groups));
  if (!with_blobs) return Status::ok();
  for (const Tensor* t : {&l.weight, &l.bias}) {
    if (t == &l.bias && !l.conv.has_bias) break;
    caffe::BlobProto* b = lp->add_blobs();
    for (int64_t d : t->shape) b->mutable_shape()->add_dim(d);
    b->mutable_data()->Add(t->data.begin(), t->data.end());
  }
  return Status::ok();
}

Status fill_pooling(const Layer& l, caffe::LayerParameter* lp) {
  lp->set_type("Pooling");
  auto* p = lp->mutable_pooling_param();
  p->set_pool(l.op == OpKind::kMaxPool ? caffe::PoolingParameter::MAX
                                       : caffe::PoolingParameter::AVE);
  if (l.pool.global) {
    p->set_global_pooling(true);
    return Status::ok();
  }
  SQZ_RETURN_ERROR_IF(l.pool.extra_pad_h != 0 || l.pool.extra_pad_w != 0, ErrorCode::kUnsupported,
                      "layer '" + l.name + "': Caffe has no asymmetric padding");
  SQZ_RETURN_ERROR_IF(
      l.op == OpKind::kAvgPool && !l.pool.average_counts_padding && (l.pool.pad_h || l.pool.pad_w),
      ErrorCode::kUnsupported, "layer '" + l.name + "': Caffe cannot exclude padding from averages");
  p->set_kernel_h(static_cast<uint32_t>(l.pool.kernel_h));
  p->set_kernel_w(static_cast<uint32_t>(l.pool.kernel_w));
  p->set_stride_h(static_cast<uint32_t>(l.pool.stride_h));
  p->set_stride_w(static_cast<uint32_t>(l.pool.stride_w));
  p->set_pad_h(static_cast<uint32_t>(l.pool.pad_h));
  p->set_pad_w(static_cast<uint32_t>(l.pool.pad_w));
  if (l.pool.rounding == PoolRounding::kFloor) p->set_round_mode(caffe::PoolingParameter::FLOOR);
  return Status::ok();
}

Status fill_layer(const Layer& l, bool with_blobs, const Producers& producer,
                  caffe::LayerParameter* lp) {
  lp->set_name(l.name);
  for (const std::string& in : l.inputs) lp->add_bottom(caffe_blob(in, producer));
  lp->add_top(caffe_blob(l.output, producer));
  switch (l.op) {
    case OpKind::kConvolution:
      return fill_convolution(l, with_blobs, lp);
    case OpKind::kMaxPool:
    case OpKind::kAvgPool:
      return fill_pooling(l, lp);
    case OpKind::kRelu:
      lp->set_type("ReLU");
      return Status::ok();
    case OpKind::kDropout:
      lp->set_type("Dropout");
      return Status::ok();
    case OpKind::kConcat:
      lp->set_type("Concat");
      if (l.axis != 1) lp->mutable_concat_param()->set_axis(static_cast<int32_t>(l.axis));
      return Status::ok();
    case OpKind::kSoftmax:
      lp->set_type("Softmax");
      if (l.axis != 1) lp->mutable_softmax_param()->set_axis(static_cast<int32_t>(l.axis));
      return Status::ok();
    case OpKind::kFlatten:
      lp->set_type("Flatten");
      return Status::ok();
    case OpKind::kAdd:
      lp->set_type("Eltwise");  // operation SUM is the default
      return Status::ok();
  }
  return Status(ErrorCode::kUnsupported, "layer '" + l.name + "' cannot be exported");
}

Result<caffe::NetParameter> to_net(const Model& model, bool with_blobs) {
  Model m = model;
  for (Layer& l : m.layers) expand_codes(l);  // codes-only layers: the float32 weights
  SQZ_RETURN_IF_ERROR(validate_and_infer(m).status());
  caffe::NetParameter net;
  net.set_name(m.name);
  net.add_input(m.input);
  caffe::BlobShape* shape = net.add_input_shape();
  for (int64_t d : m.input_shape) shape->add_dim(d);
  Producers producer;
  for (const Layer& l : m.layers) producer[l.output] = l.name;
  for (const Layer& l : m.layers)
    SQZ_RETURN_IF_ERROR(fill_layer(l, with_blobs, producer, net.add_layer()));
  return net;
}

}  // namespace

Result<std::string> export_caffe_prototxt(const Model& model) {
  SQZ_ASSIGN_OR_RETURN(caffe::NetParameter net, to_net(model, false));
  std::string text;
  google::protobuf::TextFormat::PrintToString(net, &text);
  return text;
}

Result<std::string> export_caffemodel(const Model& model) {
  SQZ_ASSIGN_OR_RETURN(caffe::NetParameter net, to_net(model, true));
  std::string out;
  if (!net.SerializeToString(&out))
    return Status(ErrorCode::kLimit, "the model is too large for a single Caffe protobuf (2 GB)");
  return out;
}

}  // namespace sqz::import
