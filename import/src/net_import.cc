// Importer for the Deep Compression release file compressed_SqueezeNet.net
// (songhan/SqueezeNet-Deep-Compression). Layout, little-endian:
//   uint32 nnz[L]                      one per conv layer, prototxt order
//   per layer: float32 codebook[256], float32 bias[out], uint8 code[nnz],
//              uint8 gap[(nnz+1)/2]    two 4-bit gaps per byte, low nibble first
// Stored entry i sits at p_i = p_{i-1} + gap_i + 1 (p_{-1} = -1) in the flattened OIHW
// tensor; code 0 entries are filler zeros bridging gaps > 15 (Han et al. 2016, Sec. 2).
#include "sqz/core/byte_io.h"
#include "sqz/core/file_io.h"
#include "sqz/import/importers.h"

namespace sqz::import {
namespace {

constexpr int kCodebookSize = 256;

Status decode_layer(ByteReader& r, uint32_t nnz, Layer* l) {
  const std::string who = "layer '" + l->name + "'";
  const int64_t size = shape_numel(l->weight.shape);
  SQZ_RETURN_ERROR_IF(
      nnz > size, ErrorCode::kCorrupt,
      who + " claims " + std::to_string(nnz) + " entries for " + std::to_string(size) + " weights");
  // Every stored entry advances at most 16 positions: a tensor far larger than the entries
  // could reach is not paid for by the file (and would be allocated for nothing).
  SQZ_RETURN_ERROR_IF(size > 16 * (int64_t{nnz} + 1) + (int64_t{1} << 20), ErrorCode::kLimit,
                      who + " declares " + std::to_string(size) + " weights for " +
                          std::to_string(nnz) + " stored entries");
  float codebook[kCodebookSize];
  for (float& c : codebook)
    SQZ_RETURN_ERROR_IF(!r.get_f32(&c), ErrorCode::kCorrupt, "truncated in " + who + " codebook");
  l->bias.data.resize(static_cast<size_t>(shape_numel(l->bias.shape)));
  for (float& b : l->bias.data)
    SQZ_RETURN_ERROR_IF(!r.get_f32(&b), ErrorCode::kCorrupt, "truncated in " + who + " bias");
  std::string_view codes, gaps;
  SQZ_RETURN_ERROR_IF(!r.get_bytes(nnz, &codes) || !r.get_bytes((nnz + 1) / 2, &gaps),
                      ErrorCode::kCorrupt, "truncated in " + who + " weights");
  l->weight.data.assign(static_cast<size_t>(size), 0.0f);
  int64_t pos = -1;
  for (uint32_t i = 0; i < nnz; ++i) {
    const uint8_t byte = static_cast<uint8_t>(gaps[i / 2]);
    pos += ((i % 2 == 0) ? (byte & 0x0F) : (byte >> 4)) + 1;
    SQZ_RETURN_ERROR_IF(pos >= size, ErrorCode::kCorrupt,
                        who + ": entry " + std::to_string(i) + " lies past the tensor's end");
    l->weight.data[static_cast<size_t>(pos)] = codebook[static_cast<uint8_t>(codes[i])];
  }
  return Status::ok();
}

}  // namespace

Result<Model> import_deep_compression_net(const std::string& prototxt_path,
                                          const std::string& net_path) {
  SQZ_ASSIGN_OR_RETURN(Model m, import_caffe_prototxt(prototxt_path));
  SQZ_ASSIGN_OR_RETURN(std::string bytes, read_file(net_path));
  std::vector<Layer*> convs;
  for (Layer& l : m.layers)
    if (l.op == OpKind::kConvolution) convs.push_back(&l);
  ByteReader r(bytes);
  std::vector<uint32_t> nnz(convs.size());
  for (uint32_t& n : nnz)
    if (!r.get_u32(&n)) return Status(ErrorCode::kCorrupt, net_path + ": truncated in the header");
  for (size_t i = 0; i < convs.size(); ++i) {
    SQZ_RETURN_ERROR_IF(!convs[i]->conv.has_bias, ErrorCode::kUnsupported,
                        net_path + ": layer '" + convs[i]->name + "' has no bias term");
    Status s = decode_layer(r, nnz[i], convs[i]);
    if (!s.is_ok()) return s.with_context(net_path);
  }
  SQZ_RETURN_ERROR_IF(r.left() != 0, ErrorCode::kCorrupt,
                      net_path + ": " + std::to_string(r.left()) +
                          " unexpected trailing bytes (does the prototxt match the .net?)");
  auto checked = validate_and_infer(m);
  if (!checked.is_ok()) return checked.status().with_context(net_path);
  return m;
}

}  // namespace sqz::import
