#include "sqz/core/graph.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <queue>
#include <set>

#include "byte_scan.h"

namespace sqz {
namespace {

// Sanity limits checked before any allocation driven by a shape (see format/SPEC.md).
constexpr int64_t kMaxDim = 1 << 16;
constexpr int64_t kMaxKernel = 64;


std::string where(const Layer& layer) { return "layer '" + layer.name + "'"; }

// Orders layers so that each input is produced before it is consumed.
Status topological_sort(Model& model) {
  std::map<std::string, size_t> producer;
  for (size_t i = 0; i < model.layers.size(); ++i) {
    const Layer& l = model.layers[i];
    SQZ_RETURN_ERROR_IF(l.output.empty(), ErrorCode::kCorrupt, where(l) + " has no output blob");
    SQZ_RETURN_ERROR_IF(l.output == model.input, ErrorCode::kCorrupt,
                        where(l) + " writes the input blob '" + model.input + "'");
    SQZ_RETURN_ERROR_IF(!producer.emplace(l.output, i).second, ErrorCode::kCorrupt,
                        "blob '" + l.output + "' is produced by more than one layer");
  }
  std::vector<int> pending(model.layers.size(), 0);
  std::vector<std::vector<size_t>> consumers(model.layers.size());
  for (size_t i = 0; i < model.layers.size(); ++i) {
    const Layer& l = model.layers[i];
    SQZ_RETURN_ERROR_IF(l.inputs.empty(), ErrorCode::kCorrupt, where(l) + " has no input");
    for (const std::string& in : l.inputs) {
      if (in == model.input) continue;
      auto it = producer.find(in);
      SQZ_RETURN_ERROR_IF(it == producer.end(), ErrorCode::kNotFound,
                          where(l) + " reads unknown blob '" + in + "'");
      ++pending[i];
      consumers[it->second].push_back(i);
    }
  }
  // Kahn's algorithm taking the lowest original index first: a valid order is kept as is.
  std::priority_queue<size_t, std::vector<size_t>, std::greater<size_t>> ready;
  std::vector<size_t> order;
  for (size_t i = 0; i < model.layers.size(); ++i)
    if (pending[i] == 0) ready.push(i);
  while (!ready.empty()) {
    size_t i = ready.top();
    ready.pop();
    order.push_back(i);
    for (size_t c : consumers[i])
      if ((pending[c] -= 1) == 0) ready.push(c);
  }
  SQZ_RETURN_ERROR_IF(order.size() != model.layers.size(), ErrorCode::kCorrupt,
                      "the graph has a cycle");
  std::vector<Layer> sorted;
  sorted.reserve(order.size());
  for (size_t i : order) sorted.push_back(std::move(model.layers[i]));
  model.layers = std::move(sorted);
  return Status::ok();
}

// Whether mask[i] is a 0 or 1 and, with weights, a 0 keeps a zero. The whole mask is tested
// first, without a branch a weight (a model is checked when it is read and again when a net is
// planned: a branch a weight took a seventh of a one-image `run`), the position sought only on
// failure.
bool mask_position_bad(const Layer& l, size_t i, bool with_weights) {
  return l.mask[i] > 1 || (with_weights && l.mask[i] == 0 && l.weight.data[i] != 0.0f);
}
bool any_mask_position_bad(const Layer& l, bool with_weights) {
  const uint8_t* m = l.mask.data();
  const size_t n = l.mask.size();
  if (!with_weights) return detail::or_of_bytes(m, n) > 1;
  const float* w = l.weight.data.data();
  uint8_t bad = 0;
  for (size_t i = 0; i < n; ++i) bad |= (m[i] > 1) | ((m[i] == 0) & (w[i] != 0.0f));
  return bad != 0;
}

// Mask and codebook agree with the dense weights they describe.
Status check_weight_coding(const Layer& l) {
  if (!l.mask.empty()) {
    const bool with_weights = !l.codes_only();
    const int64_t weights = with_weights ? l.weight.numel() : shape_numel(l.weight.shape);
    SQZ_RETURN_ERROR_IF(static_cast<int64_t>(l.mask.size()) != weights,
                        ErrorCode::kCorrupt, where(l) + " mask has the wrong length");
    if (any_mask_position_bad(l, with_weights))
      for (size_t i = 0; i < l.mask.size(); ++i)
        SQZ_RETURN_ERROR_IF(
            mask_position_bad(l, i, with_weights), ErrorCode::kCorrupt,
            where(l) + " has a non-zero weight at pruned position " + std::to_string(i));
  }
  const Quantization& q = l.quant;
  if (!q.active()) return Status::ok();
  SQZ_RETURN_ERROR_IF(q.bits > 8 || q.codebook.empty() || q.codebook.size() > (size_t{1} << q.bits),
                      ErrorCode::kCorrupt, where(l) + " codebook does not fit its bit width");
  SQZ_RETURN_ERROR_IF(static_cast<int64_t>(q.codes.size()) != l.stored_count(), ErrorCode::kCorrupt,
                      where(l) + " has " + std::to_string(q.codes.size()) + " codes for " +
                          std::to_string(l.stored_count()) + " stored weights");
  if (l.codes_only()) {
    // No code has a bit the codebook's size lacks: none is past it (the OR bounds the largest).
    const bool fit = detail::or_of_bytes(q.codes.data(), q.codes.size()) < q.codebook.size();
    for (size_t k = 0; !fit && k < q.codes.size(); ++k)  // else the first past it
      SQZ_RETURN_ERROR_IF(q.codes[k] >= q.codebook.size(), ErrorCode::kCorrupt,
                          where(l) + " code " + std::to_string(k) + " is past its codebook");
    return Status::ok();
  }
  size_t k = 0;
  for (size_t i = 0; i < l.weight.data.size(); ++i) {
    if (!l.mask.empty() && !l.mask[i]) continue;
    const uint8_t c = q.codes[k++];
    SQZ_RETURN_ERROR_IF(
        c >= q.codebook.size() || q.codebook[c] != l.weight.data[i], ErrorCode::kCorrupt,
        where(l) + " weight " + std::to_string(i) + " disagrees with its codebook entry");
  }
  return Status::ok();
}

Status check_conv_weights(const Layer& l, const Shape& expected) {
  const ConvParams& c = l.conv;
  SQZ_RETURN_ERROR_IF(l.weight.shape != expected, ErrorCode::kShapeMismatch,
                      where(l) + " weight shape " + shape_to_string(l.weight.shape) +
                          " does not match the expected " + shape_to_string(expected));
  SQZ_RETURN_ERROR_IF(!l.codes_only() &&
                          static_cast<int64_t>(l.weight.data.size()) != shape_numel(expected),
                      ErrorCode::kCorrupt, where(l) + " weight data has the wrong length");
  const Shape bias_expected = c.has_bias ? Shape{c.out_channels} : Shape{};
  SQZ_RETURN_ERROR_IF(c.has_bias && l.bias.shape != bias_expected, ErrorCode::kShapeMismatch,
                      where(l) + " bias shape " + shape_to_string(l.bias.shape) +
                          " does not match the expected " + shape_to_string(bias_expected));
  SQZ_RETURN_ERROR_IF(c.has_bias ? static_cast<int64_t>(l.bias.data.size()) != c.out_channels
                                 : !l.bias.data.empty(),
                      ErrorCode::kCorrupt, where(l) + " bias data has the wrong length");
  // NaN or infinite parameters would run, and silently poison every score after them.
  for (const std::vector<float>* v : {&l.weight.data, &l.bias.data, &l.quant.codebook})
    for (float x : *v)
      SQZ_RETURN_ERROR_IF(!std::isfinite(x), ErrorCode::kCorrupt,
                          where(l) + " has a weight, bias or centroid that is not finite");
  return check_weight_coding(l);
}

Status check_conv(const Layer& l, const Shape& in, bool check_weights, Shape* out) {
  const ConvParams& c = l.conv;
  SQZ_RETURN_ERROR_IF(in.size() != 4, ErrorCode::kShapeMismatch,
                      where(l) + " needs a 4-D input, got " + shape_to_string(in));
  SQZ_RETURN_ERROR_IF(c.out_channels < 1 || c.out_channels > kMaxDim || c.groups < 1 ||
                          c.kernel_h < 1 || c.kernel_w < 1 || c.kernel_h > kMaxKernel ||
                          c.kernel_w > kMaxKernel || c.stride_h < 1 || c.stride_w < 1 ||
                          c.stride_h > kMaxDim || c.stride_w > kMaxDim ||
                          c.pad_h < 0 || c.pad_w < 0 || c.pad_h > kMaxKernel ||
                          c.pad_w > kMaxKernel || c.extra_pad_h < -c.pad_h ||
                          c.extra_pad_w < -c.pad_w || c.extra_pad_h > kMaxKernel ||
                          c.extra_pad_w > kMaxKernel,
                      ErrorCode::kCorrupt, where(l) + " has invalid convolution parameters");
  SQZ_RETURN_ERROR_IF(
      in[1] % c.groups != 0 || c.out_channels % c.groups != 0, ErrorCode::kShapeMismatch,
      where(l) + ": channels are not divisible by group " + std::to_string(c.groups));
  SQZ_RETURN_ERROR_IF(c.out_channels * (in[1] / c.groups) * c.kernel_h * c.kernel_w > kMaxConvWeights,
                      ErrorCode::kLimit,
                      where(l) + " would have more than " + std::to_string(kMaxConvWeights) +
                          " weights");
  const int64_t span_h = in[2] + 2 * c.pad_h + c.extra_pad_h - c.kernel_h,
                span_w = in[3] + 2 * c.pad_w + c.extra_pad_w - c.kernel_w;
  SQZ_RETURN_ERROR_IF(span_h < 0 || span_w < 0, ErrorCode::kShapeMismatch,
                      where(l) + " kernel is larger than its input");
  if (check_weights)
    SQZ_RETURN_IF_ERROR(
        check_conv_weights(l, {c.out_channels, in[1] / c.groups, c.kernel_h, c.kernel_w}));
  *out = {in[0], c.out_channels, span_h / c.stride_h + 1, span_w / c.stride_w + 1};
  return Status::ok();
}

Status check_pool(const Layer& l, const Shape& in, Shape* out) {
  SQZ_RETURN_ERROR_IF(in.size() != 4, ErrorCode::kShapeMismatch,
                      where(l) + " needs a 4-D input, got " + shape_to_string(in));
  if (l.pool.global) {
    *out = {in[0], in[1], 1, 1};
    return Status::ok();
  }
  const PoolParams& p = l.pool;
  SQZ_RETURN_ERROR_IF(p.kernel_h < 1 || p.kernel_w < 1 || p.kernel_h > kMaxKernel ||
                          p.kernel_w > kMaxKernel || p.stride_h < 1 || p.stride_w < 1 ||
                          p.stride_h > kMaxDim || p.stride_w > kMaxDim ||
                          p.pad_h < 0 || p.pad_w < 0 || p.pad_h >= p.kernel_h ||
                          p.pad_w >= p.kernel_w || p.pad_h + p.extra_pad_h < 0 ||
                          p.pad_w + p.extra_pad_w < 0 || p.pad_h + p.extra_pad_h >= p.kernel_h ||
                          p.pad_w + p.extra_pad_w >= p.kernel_w,
                      ErrorCode::kCorrupt, where(l) + " has invalid pooling parameters");
  SQZ_RETURN_ERROR_IF(in[2] + 2 * p.pad_h + p.extra_pad_h < p.kernel_h ||
                          in[3] + 2 * p.pad_w + p.extra_pad_w < p.kernel_w,
                      ErrorCode::kShapeMismatch, where(l) + " window is larger than its input");
  *out = {in[0], in[1],
          pooled_size(in[2], p.kernel_h, p.stride_h, p.pad_h, p.rounding, p.extra_pad_h),
          pooled_size(in[3], p.kernel_w, p.stride_w, p.pad_w, p.rounding, p.extra_pad_w)};
  return Status::ok();
}

Status check_concat(const Layer& l, const std::vector<const Shape*>& ins, Shape* out) {
  Shape s = *ins[0];
  SQZ_RETURN_ERROR_IF(l.axis != 1 || s.size() < 2, ErrorCode::kUnsupported,
                      where(l) + ": Concat along axis " + std::to_string(l.axis) +
                          " is not supported (only channels, axis 1)");
  for (size_t i = 1; i < ins.size(); ++i) {
    const Shape& t = *ins[i];
    bool same = t.size() == s.size();
    for (size_t d = 0; same && d < s.size(); ++d)
      if (static_cast<int64_t>(d) != l.axis && t[d] != s[d]) same = false;
    SQZ_RETURN_ERROR_IF(!same, ErrorCode::kShapeMismatch,
                        where(l) + " concatenates mismatched shapes " + shape_to_string(s) +
                            " and " + shape_to_string(t));
    s[l.axis] += t[l.axis];
  }
  *out = s;
  return Status::ok();
}

Status check_add(const Layer& l, const std::vector<const Shape*>& ins, Shape* out) {
  SQZ_RETURN_ERROR_IF(ins.size() < 2, ErrorCode::kCorrupt, where(l) + " needs two or more inputs");
  for (const Shape* s : ins)
    SQZ_RETURN_ERROR_IF(*s != *ins[0], ErrorCode::kShapeMismatch,
                        where(l) + " adds mismatched shapes " + shape_to_string(*ins[0]) + " and " +
                            shape_to_string(*s) + " (no broadcasting)");
  *out = *ins[0];
  return Status::ok();
}

Status infer_layer(const Layer& l, const std::vector<const Shape*>& ins, bool check_weights,
                   Shape* out) {
  SQZ_RETURN_ERROR_IF(l.op != OpKind::kConcat && l.op != OpKind::kAdd && ins.size() != 1,
                      ErrorCode::kCorrupt, where(l) + " takes exactly one input");
  switch (l.op) {
    case OpKind::kConvolution:
      return check_conv(l, *ins[0], check_weights, out);
    case OpKind::kMaxPool:
    case OpKind::kAvgPool:
      return check_pool(l, *ins[0], out);
    case OpKind::kConcat:
      return check_concat(l, ins, out);
    case OpKind::kAdd:
      return check_add(l, ins, out);
    case OpKind::kSoftmax:
      SQZ_RETURN_ERROR_IF(l.axis < -static_cast<int64_t>(ins[0]->size()) ||
                              l.axis >= static_cast<int64_t>(ins[0]->size()),
                          ErrorCode::kCorrupt,
                          where(l) + " has softmax axis " + std::to_string(l.axis) +
                              " outside its input " + shape_to_string(*ins[0]));
      *out = *ins[0];
      return Status::ok();
    case OpKind::kRelu:
    case OpKind::kDropout:
      *out = *ins[0];
      return Status::ok();
    case OpKind::kFlatten: {
      const Shape& in = *ins[0];
      SQZ_RETURN_ERROR_IF(l.axis != 1 || in.size() < 2, ErrorCode::kUnsupported,
                          where(l) + ": Flatten at axis " + std::to_string(l.axis) +
                              " is not supported (only axis 1, keeping the batch)");
      Shape head(in.begin(), in.begin() + l.axis), tail(in.begin() + l.axis, in.end());
      *out = {shape_numel(head), shape_numel(tail)};
      return Status::ok();
    }
  }
  return Status(ErrorCode::kUnsupported, where(l) + " has an unknown operator");
}

}  // namespace

const char* op_name(OpKind op) {
  switch (op) {
#define SQZ_OP_CASE(name, id, text) \
  case OpKind::name:                \
    return text;
    SQZ_OP_LIST(SQZ_OP_CASE)
#undef SQZ_OP_CASE
  }
  return "?";
}

bool op_from_id(int id, OpKind* op) {
  switch (id) {
#define SQZ_OP_ID(name, num, text) \
  case num:                        \
    *op = OpKind::name;            \
    return true;
    SQZ_OP_LIST(SQZ_OP_ID)
#undef SQZ_OP_ID
  }
  return false;
}

int64_t pooled_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad,
                    PoolRounding rounding, int64_t extra) {
  const int64_t span = in + 2 * pad + extra - kernel;
  int64_t out =
      (rounding == PoolRounding::kCeil ? (span + stride - 1) / stride : span / stride) + 1;
  // Caffe (pooling_layer.cpp): the last window must start inside the image, not the padding.
  if (pad > 0 && (out - 1) * stride >= in + pad) out -= 1;
  return out;
}

int64_t Layer::stored_count() const {
  if (mask.empty()) return codes_only() ? shape_numel(weight.shape) : weight.numel();
  // A mask of other values than 0 and 1 (a model not yet checked): its ones counted.
  if (detail::or_of_bytes(mask.data(), mask.size()) > 1)
    return std::count(mask.begin(), mask.end(), uint8_t{1});
  return detail::sum_of_bits(mask.data(), mask.size());
}

Status check_float_weights(const Model& model) {
  for (const Layer& l : model.layers)
    SQZ_RETURN_ERROR_IF(l.codes_only(), ErrorCode::kInvalidArgument,
                        where(l) + " holds its codes only (a .sqz read for the runtime): its "
                                   "weights need expand_codes first");
  return Status::ok();
}

void expand_codes(Layer& layer) {
  if (!layer.codes_only()) return;
  const Quantization& q = layer.quant;
  layer.weight.data.assign(static_cast<size_t>(shape_numel(layer.weight.shape)), 0.0f);
  size_t k = 0;
  for (size_t i = 0; i < layer.weight.data.size(); ++i)
    if (layer.mask.empty() || layer.mask[i]) layer.weight.data[i] = q.codebook[q.codes[k++]];
}

Layer make_layer(OpKind op, const std::string& name, const std::string& input) {
  Layer l;
  l.name = name;
  l.op = op;
  l.inputs = {input};
  l.output = name;
  return l;
}

Layer make_conv(const std::string& name, const std::string& input, int64_t in_channels,
                int64_t out_channels, int64_t kernel, int64_t stride, int64_t pad) {
  Layer l = make_layer(OpKind::kConvolution, name, input);
  l.conv = {out_channels, kernel, kernel, stride, stride, pad, pad, 1, true};
  l.weight.shape = {out_channels, in_channels, kernel, kernel};
  l.weight.data.assign(static_cast<size_t>(shape_numel(l.weight.shape)), 0.0f);
  l.bias.shape = {out_channels};
  l.bias.data.assign(static_cast<size_t>(out_channels), 0.0f);
  return l;
}

int64_t enforce_mask(Layer& layer) {
  int64_t reset = 0;
  if (!layer.mask.empty()) {
    for (size_t i = 0; i < layer.mask.size(); ++i) {
      if (layer.mask[i] || layer.weight.data[i] == 0.0f) continue;
      layer.weight.data[i] = 0.0f;
      ++reset;
    }
  }
  Quantization& q = layer.quant;
  if (!q.active()) return reset;
  std::vector<double> sum(q.codebook.size(), 0.0);
  std::vector<int64_t> count(q.codebook.size(), 0);
  size_t k = 0;
  for (size_t i = 0; i < layer.weight.data.size(); ++i) {
    if (!layer.mask.empty() && !layer.mask[i]) continue;
    sum[q.codes[k]] += layer.weight.data[i];
    ++count[q.codes[k++]];
  }
  for (size_t c = 0; c < q.codebook.size(); ++c)
    if (count[c]) q.codebook[c] = static_cast<float>(sum[c] / static_cast<double>(count[c]));
  k = 0;
  for (size_t i = 0; i < layer.weight.data.size(); ++i) {
    if (!layer.mask.empty() && !layer.mask[i]) continue;
    layer.weight.data[i] = q.codebook[q.codes[k++]];
  }
  return reset;
}

void canonicalize_codebook(Layer& layer) {
  Quantization& q = layer.quant;
  if (!q.active()) return;
  std::vector<float> sorted = q.codebook;
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  std::vector<uint8_t> remap(q.codebook.size());
  for (size_t c = 0; c < q.codebook.size(); ++c)
    remap[c] = static_cast<uint8_t>(std::lower_bound(sorted.begin(), sorted.end(), q.codebook[c]) -
                                    sorted.begin());
  for (uint8_t& code : q.codes) code = remap[code];
  q.codebook = std::move(sorted);
}

const Layer* Model::find_layer(const std::string& layer_name) const {
  for (const Layer& l : layers)
    if (l.name == layer_name) return &l;
  return nullptr;
}

Layer* Model::find_layer(const std::string& layer_name) {
  for (Layer& l : layers)
    if (l.name == layer_name) return &l;
  return nullptr;
}

int64_t Model::weight_count() const {
  int64_t n = 0;
  for (const Layer& l : layers) n += l.weight.numel();
  return n;
}

int64_t Model::nonzero_weight_count() const {
  int64_t n = 0;
  for (const Layer& l : layers) n += l.weight.count_nonzero();
  return n;
}

int64_t Model::bias_count() const {
  int64_t n = 0;
  for (const Layer& l : layers) n += l.bias.numel();
  return n;
}

Result<Shape> infer_layer_shape(const Layer& layer, const std::vector<Shape>& inputs,
                                bool check_weights) {
  SQZ_RETURN_ERROR_IF(inputs.empty(), ErrorCode::kCorrupt, where(layer) + " has no input");
  Layer l = layer;
  if (l.axis < 0) l.axis += static_cast<int64_t>(inputs[0].size());
  std::vector<const Shape*> ins;
  for (const Shape& s : inputs) ins.push_back(&s);
  Shape out;
  SQZ_RETURN_IF_ERROR(infer_layer(l, ins, check_weights, &out));
  return out;
}

Result<std::map<std::string, Shape>> validate_and_infer(Model& model, int64_t batch,
                                                        bool check_weights) {
  SQZ_RETURN_ERROR_IF(model.input.empty(), ErrorCode::kCorrupt, "the model has no input");
  SQZ_RETURN_ERROR_IF(
      model.input_shape.size() != 4, ErrorCode::kUnsupported,
      "input '" + model.input + "' must be 4-D NCHW, got " + shape_to_string(model.input_shape));
  for (int64_t d : model.input_shape)
    SQZ_RETURN_ERROR_IF(d < 1 || d > kMaxDim, ErrorCode::kLimit,
                        "input shape " + shape_to_string(model.input_shape) + " is out of range");
  SQZ_RETURN_ERROR_IF(model.layers.empty(), ErrorCode::kCorrupt, "the model has no layers");
  SQZ_RETURN_ERROR_IF(static_cast<int64_t>(model.layers.size()) > kMaxLayers, ErrorCode::kLimit,
                      std::to_string(model.layers.size()) + " layers is more than the limit of " +
                          std::to_string(kMaxLayers));
  SQZ_RETURN_ERROR_IF(shape_numel(model.input_shape) > kMaxActivationElements, ErrorCode::kLimit,
                      "input shape " + shape_to_string(model.input_shape) +
                          " is more than the limit of " + std::to_string(kMaxActivationElements) +
                          " elements");
  for (const std::string* s : {&model.name, &model.input, &model.output})
    SQZ_RETURN_ERROR_IF(s->size() > kMaxNameBytes, ErrorCode::kLimit,
                        "a name is longer than the limit of " + std::to_string(kMaxNameBytes) +
                            " bytes");
  std::set<std::string> names;
  for (const Layer& l : model.layers) {
    SQZ_RETURN_ERROR_IF(!names.insert(l.name).second, ErrorCode::kCorrupt,
                        "layer name '" + l.name.substr(0, 200) + "' is used twice");
    SQZ_RETURN_ERROR_IF(static_cast<int64_t>(l.inputs.size()) > kMaxLayerInputs,
                        ErrorCode::kLimit,
                        where(l) + " has " + std::to_string(l.inputs.size()) +
                            " inputs, more than the limit of " + std::to_string(kMaxLayerInputs));
    bool long_name = l.name.size() > kMaxNameBytes || l.output.size() > kMaxNameBytes;
    for (const std::string& in : l.inputs) long_name |= in.size() > kMaxNameBytes;
    SQZ_RETURN_ERROR_IF(long_name, ErrorCode::kLimit,
                        "layer '" + l.name.substr(0, 64) + "...' has a name longer than the limit of " +
                            std::to_string(kMaxNameBytes) + " bytes");
  }
  SQZ_RETURN_IF_ERROR(topological_sort(model));

  std::map<std::string, Shape> shapes;
  Shape in = model.input_shape;
  if (batch > 0) in[0] = batch;
  shapes[model.input] = in;
  for (Layer& l : model.layers) {
    const int64_t rank = static_cast<int64_t>(shapes.at(l.inputs[0]).size());
    if (l.axis < 0) l.axis += rank;  // ONNX-style negative axes count from the end
    std::vector<const Shape*> ins;
    for (const std::string& name : l.inputs) ins.push_back(&shapes.at(name));
    Shape out;
    SQZ_RETURN_IF_ERROR(infer_layer(l, ins, check_weights, &out));
    for (int64_t d : out)
      SQZ_RETURN_ERROR_IF(d < 1, ErrorCode::kShapeMismatch,
                          where(l) + " produces an empty output " + shape_to_string(out));
    SQZ_RETURN_ERROR_IF(shape_numel(out) > kMaxActivationElements, ErrorCode::kLimit,
                        where(l) + " output " + shape_to_string(out) + " is too large");
    shapes[l.output] = out;
  }
  if (model.output.empty()) model.output = model.layers.back().output;
  SQZ_RETURN_ERROR_IF(!shapes.count(model.output), ErrorCode::kNotFound,
                      "output blob '" + model.output + "' is not produced by any layer");
  return shapes;
}

}  // namespace sqz
