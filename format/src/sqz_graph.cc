#include "sqz_internal.h"

namespace sqz::format::detail {
namespace {

constexpr uint8_t kPoolGlobal = 1, kPoolFloor = 2, kPoolExcludePad = 4, kPoolAsymmetric = 8;
constexpr uint8_t kConvBias = 1, kConvAsymmetric = 2;
constexpr int64_t kMaxParam = 65536;
constexpr uint16_t kMinorGraph = 3;  // Add, asymmetric pads, Softmax along its own axis

bool get_extra_pads(ByteReader& r, int64_t* h, int64_t* w) {
  uint32_t a, b;
  if (!r.get_u32(&a) || !r.get_u32(&b)) return false;
  *h = static_cast<int32_t>(a);
  *w = static_cast<int32_t>(b);
  return true;
}

void put_extra_pads(std::string* out, int64_t h, int64_t w) {
  put_u32(out, static_cast<uint32_t>(static_cast<int32_t>(h)));
  put_u32(out, static_cast<uint32_t>(static_cast<int32_t>(w)));
}

bool get_u32_param(ByteReader& r, int64_t* v) {
  uint32_t x;
  if (!r.get_u32(&x)) return false;
  *v = x;
  return true;
}

// Writes a layer's parameters; raises *minor to what they need (SPEC change log).
void put_layer_params(std::string* out, const Layer& l, uint16_t* minor) {
  switch (l.op) {
    case OpKind::kConvolution: {
      const ConvParams& c = l.conv;
      for (int64_t v : {c.out_channels, c.kernel_h, c.kernel_w, c.stride_h, c.stride_w, c.pad_h,
                        c.pad_w, c.groups})
        put_u32(out, static_cast<uint32_t>(v));
      const bool asymmetric = c.extra_pad_h != 0 || c.extra_pad_w != 0;
      put_u8(out, static_cast<uint8_t>((c.has_bias ? kConvBias : 0) |
                                       (asymmetric ? kConvAsymmetric : 0)));
      if (asymmetric) put_extra_pads(out, c.extra_pad_h, c.extra_pad_w);
      if (asymmetric) *minor = std::max(*minor, kMinorGraph);
      return;
    }
    case OpKind::kMaxPool:
    case OpKind::kAvgPool: {
      const PoolParams& p = l.pool;
      for (int64_t v : {p.kernel_h, p.kernel_w, p.stride_h, p.stride_w, p.pad_h, p.pad_w})
        put_u32(out, static_cast<uint32_t>(v));
      const bool asymmetric = p.extra_pad_h != 0 || p.extra_pad_w != 0;
      put_u8(out, static_cast<uint8_t>((p.global ? kPoolGlobal : 0) |
                                       (p.rounding == PoolRounding::kFloor ? kPoolFloor : 0) |
                                       (p.average_counts_padding ? 0 : kPoolExcludePad) |
                                       (asymmetric ? kPoolAsymmetric : 0)));
      if (asymmetric) put_extra_pads(out, p.extra_pad_h, p.extra_pad_w);
      if (asymmetric) *minor = std::max(*minor, kMinorGraph);
      return;
    }
    case OpKind::kSoftmax:
      if (l.axis != 1) *minor = std::max(*minor, kMinorGraph);
      [[fallthrough]];
    case OpKind::kConcat:
    case OpKind::kFlatten:
      put_u32(out, static_cast<uint32_t>(static_cast<int32_t>(l.axis)));
      return;
    case OpKind::kAdd:
      *minor = std::max(*minor, kMinorGraph);
      return;
    case OpKind::kRelu:
    case OpKind::kDropout:
      return;
  }
}

Status check_extra_pads(const Layer& l, int64_t h, int64_t w, int64_t pad_h, int64_t pad_w) {
  SQZ_RETURN_ERROR_IF(h < -pad_h || w < -pad_w || h > kMaxParam || w > kMaxParam,
                      ErrorCode::kCorrupt, "layer '" + l.name + "' has impossible extra padding");
  return Status::ok();
}

Status get_layer_params(ByteReader& r, uint16_t minor, Layer* l) {
  const Status truncated(ErrorCode::kCorrupt,
                         "GRAPH section is truncated in layer '" + l->name + "'");
  switch (l->op) {
    case OpKind::kConvolution: {
      ConvParams& c = l->conv;
      for (int64_t* v : {&c.out_channels, &c.kernel_h, &c.kernel_w, &c.stride_h, &c.stride_w,
                         &c.pad_h, &c.pad_w, &c.groups}) {
        if (!get_u32_param(r, v)) return truncated;
        SQZ_RETURN_ERROR_IF(*v > kMaxParam, ErrorCode::kLimit,
                            "layer '" + l->name + "' has a parameter beyond the limits");
      }
      uint8_t flags;
      if (!r.get_u8(&flags)) return truncated;
      SQZ_RETURN_ERROR_IF(flags & ~(kConvBias | kConvAsymmetric), ErrorCode::kCorrupt,
                          "layer '" + l->name + "': reserved convolution flags are set");
      c.has_bias = flags & kConvBias;
      if (!(flags & kConvAsymmetric)) return Status::ok();
      if (!get_extra_pads(r, &c.extra_pad_h, &c.extra_pad_w)) return truncated;
      return check_extra_pads(*l, c.extra_pad_h, c.extra_pad_w, c.pad_h, c.pad_w);
    }
    case OpKind::kMaxPool:
    case OpKind::kAvgPool: {
      PoolParams& p = l->pool;
      for (int64_t* v : {&p.kernel_h, &p.kernel_w, &p.stride_h, &p.stride_w, &p.pad_h, &p.pad_w}) {
        if (!get_u32_param(r, v)) return truncated;
        SQZ_RETURN_ERROR_IF(*v > kMaxParam, ErrorCode::kLimit,
                            "layer '" + l->name + "' has a parameter beyond the limits");
      }
      uint8_t flags;
      if (!r.get_u8(&flags)) return truncated;
      SQZ_RETURN_ERROR_IF(flags & ~15, ErrorCode::kCorrupt,
                          "layer '" + l->name + "': reserved pooling flags are set");
      p.global = flags & kPoolGlobal;
      p.rounding = (flags & kPoolFloor) ? PoolRounding::kFloor : PoolRounding::kCeil;
      p.average_counts_padding = !(flags & kPoolExcludePad);
      if (!(flags & kPoolAsymmetric)) return Status::ok();
      if (!get_extra_pads(r, &p.extra_pad_h, &p.extra_pad_w)) return truncated;
      return check_extra_pads(*l, p.extra_pad_h, p.extra_pad_w, p.pad_h, p.pad_w);
    }
    case OpKind::kConcat:
    case OpKind::kSoftmax:
    case OpKind::kFlatten: {
      uint32_t a;
      if (!r.get_u32(&a)) return truncated;
      l->axis = static_cast<int32_t>(a);
      // Before 1.3 every Softmax ran along the channels, whatever axis was written.
      if (l->op == OpKind::kSoftmax && minor < kMinorGraph) l->axis = 1;
      return Status::ok();
    }
    case OpKind::kRelu:
    case OpKind::kDropout:
    case OpKind::kAdd:
      return Status::ok();
  }
  return truncated;
}

}  // namespace

void put_str(std::string* out, const std::string& s) {
  put_u16(out, static_cast<uint16_t>(s.size()));
  out->append(s);
}

bool get_str(ByteReader& r, std::string* s) {
  uint16_t n;
  std::string_view v;
  if (!r.get_u16(&n) || n > kMaxString || !r.get_bytes(n, &v)) return false;
  s->assign(v);
  return true;
}

std::string encode_graph(const Model& m, uint16_t* minor) {
  std::string out;
  put_str(&out, m.name);
  put_str(&out, m.input);
  put_u8(&out, static_cast<uint8_t>(m.input_shape.size()));
  for (int64_t d : m.input_shape) put_u32(&out, static_cast<uint32_t>(d));
  put_str(&out, m.output);
  put_u32(&out, static_cast<uint32_t>(m.layers.size()));
  for (const Layer& l : m.layers) {
    put_u8(&out, static_cast<uint8_t>(l.op));
    put_str(&out, l.name);
    put_u8(&out, static_cast<uint8_t>(l.inputs.size()));
    for (const std::string& in : l.inputs) put_str(&out, in);
    put_str(&out, l.output);
    put_layer_params(&out, l, minor);
  }
  return out;
}

Status decode_graph(std::string_view bytes, uint16_t minor, Model* m) {
  ByteReader r(bytes);
  const Status truncated(ErrorCode::kCorrupt, "GRAPH section is truncated");
  uint8_t rank;
  if (!get_str(r, &m->name) || !get_str(r, &m->input) || !r.get_u8(&rank)) return truncated;
  SQZ_RETURN_ERROR_IF(rank != 4, ErrorCode::kUnsupported, "input rank must be 4");
  m->input_shape.resize(rank);
  for (int64_t& d : m->input_shape)
    if (!get_u32_param(r, &d)) return truncated;
  uint32_t count;
  if (!get_str(r, &m->output) || !r.get_u32(&count)) return truncated;
  SQZ_RETURN_ERROR_IF(count == 0 || count > kMaxLayers || count > r.left(), ErrorCode::kLimit,
                      "GRAPH declares " + std::to_string(count) + " layers");
  m->layers.resize(count);
  for (Layer& l : m->layers) {
    uint8_t op, inputs;
    if (!r.get_u8(&op) || !get_str(r, &l.name) || !r.get_u8(&inputs)) return truncated;
    SQZ_RETURN_ERROR_IF(!op_from_id(op, &l.op), ErrorCode::kUnsupported,
                        "layer '" + l.name + "' has unknown operator id " + std::to_string(op));
    SQZ_RETURN_ERROR_IF(inputs == 0 || inputs > 64, ErrorCode::kCorrupt,
                        "layer '" + l.name + "' has " + std::to_string(inputs) + " inputs");
    l.inputs.resize(inputs);
    for (std::string& in : l.inputs)
      if (!get_str(r, &in)) return truncated;
    if (!get_str(r, &l.output)) return truncated;
    SQZ_RETURN_IF_ERROR(get_layer_params(r, minor, &l));
  }
  SQZ_RETURN_ERROR_IF(r.left() != 0, ErrorCode::kCorrupt, "GRAPH section has trailing bytes");
  return Status::ok();
}

std::string encode_metadata(const Metadata& md) {
  std::string out;
  put_u32(&out, static_cast<uint32_t>(md.size()));
  for (const auto& [k, v] : md) {
    put_str(&out, k);
    put_str(&out, v);  // REQUIRES: at most kMaxString bytes (encode_sqz checks)
  }
  return out;
}

Status decode_metadata(std::string_view bytes, Metadata* md) {
  ByteReader r(bytes);
  uint32_t count;
  SQZ_RETURN_ERROR_IF(!r.get_u32(&count) || count > 4096, ErrorCode::kCorrupt,
                      "METADATA section is corrupt");
  for (uint32_t i = 0; i < count; ++i) {
    std::string k, v;
    SQZ_RETURN_ERROR_IF(!get_str(r, &k) || !get_str(r, &v), ErrorCode::kCorrupt,
                        "METADATA section is truncated");
    md->emplace_back(std::move(k), std::move(v));
  }
  SQZ_RETURN_ERROR_IF(r.left() != 0, ErrorCode::kCorrupt, "METADATA section has trailing bytes");
  return Status::ok();
}

}  // namespace sqz::format::detail
