#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include <climits>
#include <map>
#include <set>

#include "caffe.pb.h"
#include "fold.h"
#include "sqz/core/file_io.h"
#include "sqz/import/importers.h"

namespace sqz::import {
namespace {

class FirstErrorCollector : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, int column, const std::string& message) override {
    if (first_.empty())
      first_ =
          "line " + std::to_string(line + 1) + ":" + std::to_string(column + 1) + ": " + message;
  }
  void AddWarning(int, int, const std::string&) override {}
  const std::string& first() const { return first_; }

 private:
  std::string first_;
};

Result<caffe::NetParameter> parse_prototxt(const std::string& path) {
  // A deploy prototxt is a few kilobytes; 16 MiB and 64 levels of nesting leave a wide margin
  // while a hostile file can neither exhaust memory nor the stack.
  SQZ_ASSIGN_OR_RETURN(std::string text, read_file(path, size_t{16} << 20));
  caffe::NetParameter net;
  google::protobuf::TextFormat::Parser parser;
  parser.SetRecursionLimit(64);
  FirstErrorCollector errors;
  parser.RecordErrorsTo(&errors);
  // Deploy files carry training-only fields (fillers, lr_mult, ...) this tool ignores.
  parser.AllowUnknownField(true);
  if (!parser.ParseFromString(text, &net))
    return Status(ErrorCode::kParse, path + ": not a valid Caffe prototxt: " + errors.first());
  SQZ_RETURN_ERROR_IF(net.layer_size() > kMaxLayers, ErrorCode::kLimit,
                      path + ": " + std::to_string(net.layer_size()) +
                          " layers is more than the limit of " + std::to_string(kMaxLayers));
  return net;
}

int64_t first_or(const google::protobuf::RepeatedField<uint32_t>& v, int64_t fallback) {
  return v.empty() ? fallback : v.Get(0);
}

Status conv_from_caffe(const caffe::LayerParameter& lp, Layer* l) {
  const caffe::ConvolutionParameter& p = lp.convolution_param();
  const std::string who = "layer '" + lp.name() + "'";
  SQZ_RETURN_ERROR_IF(p.kernel_size_size() > 2 || p.pad_size() > 2 || p.stride_size() > 2,
                      ErrorCode::kUnsupported, who + ": only 2-D convolution is supported");
  for (uint32_t d : p.dilation())
    SQZ_RETURN_ERROR_IF(d != 1, ErrorCode::kUnsupported, who + ": dilated convolution");
  ConvParams& c = l->conv;
  c.out_channels = p.num_output();
  c.kernel_h = p.has_kernel_h() ? p.kernel_h() : first_or(p.kernel_size(), 0);
  c.kernel_w =
      p.has_kernel_w() ? p.kernel_w() : (p.kernel_size_size() == 2 ? p.kernel_size(1) : c.kernel_h);
  c.stride_h = p.has_stride_h() ? p.stride_h() : first_or(p.stride(), 1);
  c.stride_w = p.has_stride_w() ? p.stride_w() : (p.stride_size() == 2 ? p.stride(1) : c.stride_h);
  c.pad_h = p.has_pad_h() ? p.pad_h() : first_or(p.pad(), 0);
  c.pad_w = p.has_pad_w() ? p.pad_w() : (p.pad_size() == 2 ? p.pad(1) : c.pad_h);
  c.groups = p.group();
  c.has_bias = p.bias_term();
  SQZ_RETURN_ERROR_IF(c.kernel_h == 0 || c.kernel_w == 0, ErrorCode::kCorrupt,
                      who + ": convolution without kernel_size");
  return Status::ok();
}

Status pool_from_caffe(const caffe::LayerParameter& lp, Layer* l) {
  const caffe::PoolingParameter& p = lp.pooling_param();
  switch (p.pool()) {
    case caffe::PoolingParameter::MAX:
      l->op = OpKind::kMaxPool;
      break;
    case caffe::PoolingParameter::AVE:
      l->op = OpKind::kAvgPool;
      break;
    default:
      return Status(ErrorCode::kUnsupported, "layer '" + lp.name() + "': stochastic pooling");
  }
  PoolParams& q = l->pool;
  q.global = p.global_pooling();
  q.kernel_h = p.has_kernel_h() ? p.kernel_h() : p.kernel_size();
  q.kernel_w = p.has_kernel_w() ? p.kernel_w() : p.kernel_size();
  q.stride_h = p.has_stride_h() ? p.stride_h() : p.stride();
  q.stride_w = p.has_stride_w() ? p.stride_w() : p.stride();
  q.pad_h = p.has_pad_h() ? p.pad_h() : p.pad();
  q.pad_w = p.has_pad_w() ? p.pad_w() : p.pad();
  q.rounding =
      p.round_mode() == caffe::PoolingParameter::FLOOR ? PoolRounding::kFloor : PoolRounding::kCeil;
  q.average_counts_padding = true;
  SQZ_RETURN_ERROR_IF(!q.global && (q.kernel_h == 0 || q.kernel_w == 0), ErrorCode::kCorrupt,
                      "layer '" + lp.name() + "': pooling without kernel_size");
  return Status::ok();
}

bool excluded_from_test_phase(const caffe::LayerParameter& lp) {
  for (const auto& rule : lp.include())
    if (rule.has_phase() && rule.phase() != caffe::TEST) return true;
  for (const auto& rule : lp.exclude())
    if (rule.has_phase() && rule.phase() == caffe::TEST) return true;
  return lp.has_phase() && lp.phase() != caffe::TEST;
}

Status read_input_declaration(const caffe::NetParameter& net, Model* m) {
  if (net.input_size() == 0) return Status::ok();
  SQZ_RETURN_ERROR_IF(net.input_size() != 1, ErrorCode::kUnsupported,
                      "only single-input networks are supported");
  m->input = net.input(0);
  if (net.input_shape_size() > 0) {
    for (int64_t d : net.input_shape(0).dim()) m->input_shape.push_back(d);
  } else {
    for (int32_t d : net.input_dim()) m->input_shape.push_back(d);
  }
  return Status::ok();
}

// A BatchNorm or Scale layer to fold into the convolution before it once weights are read.
struct PendingFold {
  size_t conv;       // index in Model::layers
  std::string name;  // the Caffe layer (its blobs are in the .caffemodel)
  bool batch_norm;   // else Scale
  float eps = 1e-5f;
  bool scale_bias = false;
};

// BatchNorm / Scale after a convolution (in place, as Caffe's ResNet-style nets write them):
// recorded for folding; its top then names the convolution's output.
Status fold_later(const caffe::LayerParameter& lp, const Model& m,
                  const std::map<std::string, size_t>& producer,
                  std::map<std::string, std::string>& current, std::set<std::string>& read,
                  std::vector<PendingFold>* folds) {
  const std::string who = "layer '" + lp.name() + "'";
  SQZ_RETURN_ERROR_IF(lp.bottom_size() != 1 || lp.top_size() != 1, ErrorCode::kUnsupported,
                      who + " must have one bottom and one top");
  auto it = current.find(lp.bottom(0));
  SQZ_RETURN_ERROR_IF(it == current.end(), ErrorCode::kNotFound,
                      who + " reads unknown blob '" + lp.bottom(0) + "'");
  auto made = producer.find(it->second);
  const size_t conv = made != producer.end() && m.layers[made->second].op == OpKind::kConvolution
                          ? made->second
                          : m.layers.size();
  SQZ_RETURN_ERROR_IF(conv == m.layers.size() || read.count(it->second), ErrorCode::kUnsupported,
                      who + ": only a " + lp.type() +
                          " right after a convolution (that nothing else reads) can be folded");
  if (lp.type() == "BatchNorm") {
    SQZ_RETURN_ERROR_IF(
        lp.batch_norm_param().has_use_global_stats() && !lp.batch_norm_param().use_global_stats(),
        ErrorCode::kUnsupported, who + ": use_global_stats false (training mode)");
    folds->push_back({conv, lp.name(), true, lp.batch_norm_param().eps(), false});
  } else {
    SQZ_RETURN_ERROR_IF(lp.scale_param().axis() != 1 || lp.scale_param().num_axes() != 1,
                        ErrorCode::kUnsupported, who + ": only a per-channel Scale is supported");
    folds->push_back({conv, lp.name(), false, 0, lp.scale_param().bias_term()});
  }
  current[lp.top(0)] = it->second;
  return Status::ok();
}

// The layer's op and its parameters from a Caffe layer (BatchNorm, Scale and Input aside).
Status op_from_caffe(const caffe::LayerParameter& lp, const std::string& who, Layer* l) {
  const std::string& type = lp.type();
  if (type == "Convolution") {
    l->op = OpKind::kConvolution;
    SQZ_RETURN_IF_ERROR(conv_from_caffe(lp, l));
  } else if (type == "ReLU") {
    SQZ_RETURN_ERROR_IF(lp.relu_param().negative_slope() != 0.0f, ErrorCode::kUnsupported,
                        who + ": leaky ReLU (negative_slope) is not supported");
    l->op = OpKind::kRelu;
  } else if (type == "Pooling") {
    SQZ_RETURN_IF_ERROR(pool_from_caffe(lp, l));
  } else if (type == "Concat") {
    l->op = OpKind::kConcat;
    l->axis =
        lp.concat_param().has_axis() ? lp.concat_param().axis() : lp.concat_param().concat_dim();
  } else if (type == "Dropout") {
    l->op = OpKind::kDropout;
  } else if (type == "Softmax") {
    l->op = OpKind::kSoftmax;
    l->axis = lp.softmax_param().axis();
  } else if (type == "Flatten") {
    l->op = OpKind::kFlatten;
    l->axis = lp.flatten_param().axis();
    SQZ_RETURN_ERROR_IF(lp.flatten_param().end_axis() != -1, ErrorCode::kUnsupported,
                        who + ": Flatten with an end_axis is not supported");
  } else if (type == "Eltwise") {
    const caffe::EltwiseParameter& e = lp.eltwise_param();
    SQZ_RETURN_ERROR_IF(e.operation() != caffe::EltwiseParameter::SUM, ErrorCode::kUnsupported,
                        who + ": only Eltwise SUM is supported");
    for (float c : e.coeff())
      SQZ_RETURN_ERROR_IF(c != 1.0f, ErrorCode::kUnsupported,
                          who + ": Eltwise coefficients other than 1 are not supported");
    l->op = OpKind::kAdd;
  } else {
    return Status(ErrorCode::kUnsupported, who + ": unsupported layer type '" + type + "'");
  }
  return Status::ok();
}

// Builds the graph. In-place layers (top == bottom, as Caffe's ReLU and Dropout) get a
// fresh output blob name so that every blob in the Model has exactly one producer.
Result<Model> graph_from_net(const caffe::NetParameter& net, std::vector<PendingFold>* folds) {
  SQZ_RETURN_ERROR_IF(net.layers_size() > 0, ErrorCode::kUnsupported,
                      "legacy V1 'layers' definitions are not supported; upgrade the prototxt "
                      "with Caffe's upgrade_net_proto_text");
  Model m;
  m.name = net.name();
  SQZ_RETURN_IF_ERROR(read_input_declaration(net, &m));
  std::map<std::string, std::string> current;  // Caffe blob name -> latest Model blob name
  std::set<std::string> read;                  // Model blobs some layer reads
  std::map<std::string, size_t> producer;      // Model blob -> the layer that makes it
  if (!m.input.empty()) current[m.input] = m.input;
  for (const caffe::LayerParameter& lp : net.layer()) {
    if (excluded_from_test_phase(lp)) continue;
    const std::string& type = lp.type();
    const std::string who = "layer '" + lp.name() + "'";
    if (type == "Input") {
      SQZ_RETURN_ERROR_IF(
          !m.input.empty() || lp.top_size() != 1 || lp.input_param().shape_size() != 1,
          ErrorCode::kUnsupported, "only single-input networks are supported");
      m.input = lp.top(0);
      for (int64_t d : lp.input_param().shape(0).dim()) m.input_shape.push_back(d);
      current[m.input] = m.input;
      continue;
    }
    if (type == "BatchNorm" || type == "Scale") {
      SQZ_RETURN_IF_ERROR(fold_later(lp, m, producer, current, read, folds));
      continue;
    }
    Layer l;
    l.name = lp.name();
    SQZ_RETURN_IF_ERROR(op_from_caffe(lp, who, &l));
    SQZ_RETURN_ERROR_IF(lp.top_size() != 1, ErrorCode::kUnsupported,
                        who + " must have exactly one top");
    for (const std::string& b : lp.bottom()) {
      auto it = current.find(b);
      SQZ_RETURN_ERROR_IF(it == current.end(), ErrorCode::kNotFound,
                          who + " reads unknown blob '" + b + "'");
      l.inputs.push_back(it->second);
      read.insert(it->second);
    }
    const std::string& top = lp.top(0);
    l.output = current.count(top) ? top + "@" + lp.name() : top;
    current[top] = l.output;
    producer[l.output] = m.layers.size();
    m.layers.push_back(std::move(l));
  }
  SQZ_RETURN_ERROR_IF(m.input.empty(), ErrorCode::kCorrupt,
                      "no input declared (input/input_dim or an Input layer)");
  return m;
}

// Fills weight/bias shapes (empty data) from shape inference on the bare graph.
Status set_expected_parameter_shapes(Model& m) {
  SQZ_ASSIGN_OR_RETURN(auto shapes, validate_and_infer(m, 0, /*check_weights=*/false));
  for (Layer& l : m.layers) {
    if (l.op != OpKind::kConvolution) continue;
    const Shape& in = shapes.at(l.inputs[0]);
    l.weight.shape = {l.conv.out_channels, in[1] / l.conv.groups, l.conv.kernel_h, l.conv.kernel_w};
    l.bias.shape = l.conv.has_bias ? Shape{l.conv.out_channels} : Shape{};
  }
  return Status::ok();
}

Shape blob_shape(const caffe::BlobProto& b) {
  Shape s;
  if (b.has_shape()) {
    for (int64_t d : b.shape().dim()) s.push_back(d);
  } else {
    s = {b.num(), b.channels(), b.height(), b.width()};
  }
  return s;
}

// Reads one parameter blob into t, whose shape is already the expected one. A legacy 4-D
// bias (1, 1, 1, O) is accepted when the element count matches.
Status read_blob(const caffe::BlobProto& b, const std::string& who, Tensor* t) {
  Shape got = blob_shape(b);
  bool legacy = !b.has_shape();
  bool ok = legacy ? shape_numel(got) == shape_numel(t->shape) : got == t->shape;
  SQZ_RETURN_ERROR_IF(!ok, ErrorCode::kShapeMismatch,
                      who + " has shape " + shape_to_string(got) + " but the prototxt implies " +
                          shape_to_string(t->shape));
  if (b.data_size() > 0) {
    SQZ_RETURN_ERROR_IF(b.data_size() != shape_numel(t->shape), ErrorCode::kCorrupt,
                        who + " holds " + std::to_string(b.data_size()) + " values, expected " +
                            std::to_string(shape_numel(t->shape)));
    t->data.assign(b.data().begin(), b.data().end());
  } else {
    SQZ_RETURN_ERROR_IF(b.double_data_size() != shape_numel(t->shape), ErrorCode::kCorrupt,
                        who + " holds " + std::to_string(b.double_data_size()) +
                            " values, expected " + std::to_string(shape_numel(t->shape)));
    t->data.assign(b.double_data().begin(), b.double_data().end());
  }
  return Status::ok();
}

Result<caffe::NetParameter> parse_caffemodel(const std::string& path) {
  SQZ_ASSIGN_OR_RETURN(std::string bytes, read_file(path));
  google::protobuf::io::CodedInputStream stream(reinterpret_cast<const uint8_t*>(bytes.data()),
                                                static_cast<int>(bytes.size()));
  stream.SetTotalBytesLimit(INT_MAX);  // real models exceed protobuf's 64 MB default
  caffe::NetParameter net;
  if (!net.ParseFromCodedStream(&stream) || !stream.ConsumedEntireMessage())
    return Status(ErrorCode::kParse,
                  path + ": not a valid Caffe binary model (truncated or corrupt)");
  return net;
}

Result<Model> prototxt_graph(const std::string& prototxt_path, std::vector<PendingFold>* folds) {
  SQZ_ASSIGN_OR_RETURN(caffe::NetParameter net, parse_prototxt(prototxt_path));
  Result<Model> m = graph_from_net(net, folds);
  if (!m.is_ok()) return m.status().with_context(prototxt_path);
  Status s = set_expected_parameter_shapes(*m);
  if (!s.is_ok()) return s.with_context(prototxt_path);
  return m;
}

// BatchNorm blobs: mean, variance, and a scale factor both are divided by (Caffe's moving
// average normalizer; 0 means none). Scale blobs: gamma, then beta with bias_term.
Status apply_fold(const PendingFold& f, const caffe::LayerParameter& lp, Layer& conv) {
  const std::string who = "layer '" + f.name + "'";
  const int64_t n = conv.conv.out_channels;
  auto values = [&](int i, std::vector<float>* out) -> Status {
    SQZ_RETURN_ERROR_IF(lp.blobs_size() <= i, ErrorCode::kShapeMismatch, who + ": missing blobs");
    Tensor t;
    t.shape = i == 2 && f.batch_norm ? Shape{1} : Shape{n};
    SQZ_RETURN_IF_ERROR(read_blob(lp.blobs(i), who, &t));
    *out = std::move(t.data);
    return Status::ok();
  };
  if (f.batch_norm) {
    detail::BatchNormParams bn;
    std::vector<float> factor;
    SQZ_RETURN_IF_ERROR(values(0, &bn.mean));
    SQZ_RETURN_IF_ERROR(values(1, &bn.var));
    SQZ_RETURN_IF_ERROR(values(2, &factor));
    const float k = factor[0] == 0 ? 0.0f : 1.0f / factor[0];
    for (float& v : bn.mean) v *= k;
    for (float& v : bn.var) v *= k;
    bn.scale.assign(static_cast<size_t>(n), 1.0f);
    bn.bias.assign(static_cast<size_t>(n), 0.0f);
    bn.epsilon = f.eps;
    return detail::fold_batchnorm(conv, bn, who);
  }
  std::vector<float> gamma, beta(static_cast<size_t>(n), 0.0f);
  SQZ_RETURN_IF_ERROR(values(0, &gamma));
  if (f.scale_bias) SQZ_RETURN_IF_ERROR(values(1, &beta));
  return detail::fold_channel_affine(conv, {gamma.begin(), gamma.end()}, {beta.begin(), beta.end()},
                                     who);
}

}  // namespace

Result<Model> import_caffe_prototxt(const std::string& prototxt_path) {
  std::vector<PendingFold> folds;  // nothing to fold without weights
  return prototxt_graph(prototxt_path, &folds);
}

Result<Model> import_caffe(const std::string& prototxt_path, const std::string& caffemodel_path) {
  std::vector<PendingFold> folds;
  SQZ_ASSIGN_OR_RETURN(Model m, prototxt_graph(prototxt_path, &folds));
  SQZ_ASSIGN_OR_RETURN(caffe::NetParameter weights, parse_caffemodel(caffemodel_path));
  std::map<std::string, const caffe::LayerParameter*> by_name;
  for (const auto& lp : weights.layer()) by_name[lp.name()] = &lp;
  SQZ_RETURN_ERROR_IF(by_name.empty(), ErrorCode::kCorrupt,
                      caffemodel_path + ": contains no layers (not a Caffe model?)");
  for (Layer& l : m.layers) {
    if (l.op != OpKind::kConvolution) continue;
    auto it = by_name.find(l.name);
    const std::string who = "layer '" + l.name + "'";
    SQZ_RETURN_ERROR_IF(it == by_name.end(), ErrorCode::kNotFound,
                        caffemodel_path + ": no weights for " + who);
    const caffe::LayerParameter& lp = *it->second;
    const int want = l.conv.has_bias ? 2 : 1;
    SQZ_RETURN_ERROR_IF(lp.blobs_size() != want, ErrorCode::kShapeMismatch,
                        caffemodel_path + ": " + who + " has " + std::to_string(lp.blobs_size()) +
                            " blobs, expected " + std::to_string(want));
    Status s = read_blob(lp.blobs(0), who + " weight", &l.weight);
    if (s.is_ok() && want == 2) s = read_blob(lp.blobs(1), who + " bias", &l.bias);
    if (!s.is_ok()) return s.with_context(caffemodel_path);
    if (!l.conv.has_bias) detail::add_zero_bias(l);
  }
  for (const PendingFold& f : folds) {
    auto it = by_name.find(f.name);
    SQZ_RETURN_ERROR_IF(it == by_name.end(), ErrorCode::kNotFound,
                        caffemodel_path + ": no blobs for layer '" + f.name + "'");
    if (Status s = apply_fold(f, *it->second, m.layers[f.conv]); !s.is_ok())
      return s.with_context(caffemodel_path);
  }
  auto checked = validate_and_infer(m);
  if (!checked.is_ok()) return checked.status().with_context(caffemodel_path);
  return m;
}

}  // namespace sqz::import
