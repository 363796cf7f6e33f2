#include <zstd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>

#include "sqz/core/crc32c.h"
#include "sqz/huffman/huffman.h"
#include "sqz_internal.h"

namespace sqz::format {
namespace {

using namespace detail;

struct Section {
  uint16_t type, flags;
  std::string payload;
};

std::string zstd(std::string_view in, int level) {
  std::string out(ZSTD_compressBound(in.size()), '\0');
  const size_t n = ZSTD_compress(out.data(), out.size(), in.data(), in.size(), level);
  out.resize(ZSTD_isError(n) ? 0 : n);
  return out;
}

int64_t zstd_size(const std::vector<uint8_t>& bytes) {
  return static_cast<int64_t>(
      zstd(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()),
           ZSTD_maxCLevel())
          .size());
}

void put_floats(std::string* out, const std::vector<float>& v, FloatCoding coding) {
  for (float f : v)
    if (coding == kFloat16)
      put_u16(out, f32_to_f16(f));
    else
      put_f32(out, f);
}

// Rounds v to binary16 in place; false (v unchanged) if a value would not stay finite.
bool round_to_half(std::vector<float>* v) {
  std::vector<float> r(v->size());
  for (size_t i = 0; i < v->size(); ++i) {
    r[i] = f16_to_f32(f32_to_f16((*v)[i]));
    if (!std::isfinite(r[i])) return false;
  }
  *v = std::move(r);
  return true;
}

// Rounds a layer's biases and codebook to what `coding` (kFloat16 or kInt8Bias) stores and
// re-ties its weights to the rounded codebook, merging centroids that rounded to one value
// (their weights decode the same either way); returns false, leaving the layer unchanged,
// where the coding cannot hold the values. kInt8Bias fills *int8.
bool try_float_coding(Layer& l, FloatCoding coding, Int8Biases* int8) {
  std::vector<float> bias = l.bias.data, book = l.quant.codebook;
  if (!round_to_half(&book)) return false;
  if (coding == kFloat16 && !round_to_half(&bias)) return false;
  if (coding == kInt8Bias) {
    if (!std::all_of(bias.begin(), bias.end(), [](float v) { return std::isfinite(v); }))
      return false;
    *int8 = quantize_biases(bias);
    bias = dequantize_biases(*int8);
  }
  l.bias.data = std::move(bias);
  if (!l.quant.active()) return true;
  l.quant.codebook = std::move(book);
  canonicalize_codebook(l);
  for (size_t i = 0, k = 0; i < l.weight.data.size(); ++i)
    if (l.mask.empty() || l.mask[i]) l.weight.data[i] = l.quant.codebook[l.quant.codes[k++]];
  return true;
}

// How one layer's weights are stored: the kind, the positions kept (all for dense) and their
// encoding.
struct LayerLayout {
  WeightKind kind;
  std::vector<uint8_t> mask;
  int64_t stored = 0;
  EncodedPositions pos;
};

LayerLayout choose_layout(const Layer& l) {
  const int64_t numel = l.weight.numel();
  LayerLayout lay;
  lay.mask = l.mask;
  if (lay.mask.empty()) lay.mask.assign(static_cast<size_t>(numel), 1);
  lay.stored = std::count(lay.mask.begin(), lay.mask.end(), uint8_t{1});
  lay.kind = l.quant.active() ? kSparseCodebook : (lay.stored < numel ? kSparseF32 : kDense);
  const int64_t window = l.weight.shape.size() == 4 ? l.weight.shape[2] * l.weight.shape[3] : 1;
  lay.pos = encode_positions(lay.mask, lay.stored, window);
  // Dense beats sparse float32 when positions cost more than the zeros they save.
  if (lay.kind == kSparseF32 &&
      lay.pos.block.size() + 10 >= 4 * static_cast<size_t>(numel - lay.stored)) {
    lay.kind = kDense;
    lay.mask.assign(static_cast<size_t>(numel), 1);
    lay.stored = numel;
    lay.pos = encode_positions(lay.mask, numel, window);
  }
  return lay;
}

// The LAYER payload's fixed fields (SPEC: LAYER).
void put_layer_header(const Layer& l, uint32_t index, FloatCoding floats, const LayerLayout& lay,
                      std::string* out) {
  put_u32(out, index);
  put_u8(out, lay.kind);
  put_u8(out, lay.pos.coding);
  put_u8(out, lay.kind == kSparseCodebook ? static_cast<uint8_t>(l.quant.bits) : 0);
  put_u8(out, floats);
  put_u32(out, static_cast<uint32_t>(lay.stored));
  if (lay.pos.coding != kAll && lay.pos.coding != kBitmap) put_u16(out, lay.pos.gap_limit);
  if (lay.pos.coding != kAll) put_u32(out, lay.pos.symbols);
}

void put_bias(const Layer& l, FloatCoding floats, const Int8Biases& int8, std::string* out,
              std::vector<LedgerRow>* ledger) {
  const size_t before = out->size();
  if (floats == kInt8Bias && l.conv.has_bias) {
    put_f32(out, int8.scale);
    for (int8_t q : int8.q) put_u8(out, static_cast<uint8_t>(q));
  } else if (floats != kInt8Bias) {
    put_floats(out, l.bias.data, floats);
  }
  ledger->push_back({l.name, "bias", out->size() - before, kFloatCodingNames[floats], -1, -1});
}

void put_positions(const Layer& l, const EncodedPositions& pos, const SqzEncodeOptions& o,
                   std::string* out, std::vector<LedgerRow>* ledger) {
  put_u32(out, static_cast<uint32_t>(pos.block.size()));
  *out += pos.block;
  ledger->push_back({l.name, "positions", 4 + pos.block.size(),
                     std::string(kPositionCodingNames[pos.coding]) +
                         (pos.coding == kBitmap ? "" : "<" + std::to_string(pos.gap_limit)),
                     pos.entropy_bits / 8, o.compare_with_zstd ? zstd_size(pos.zstd_input) : -1});
}

// A codebook layer's codes, Huffman-coded (paper Sec. 4), or the stored values as float32.
void put_values(const Layer& l, const LayerLayout& lay, const SqzEncodeOptions& o,
                std::string* out, std::vector<LedgerRow>* ledger) {
  if (lay.kind == kSparseCodebook) {
    std::vector<uint16_t> codes(l.quant.codes.begin(), l.quant.codes.end());
    const std::string block = huffman::encode_block(codes, static_cast<int>(l.quant.codebook.size()));
    put_u32(out, static_cast<uint32_t>(block.size()));
    *out += block;
    std::vector<uint64_t> hist(l.quant.codebook.size(), 0);
    for (uint8_t c : l.quant.codes) ++hist[c];
    ledger->push_back({l.name, "values", 4 + block.size(), "huffman", huffman::entropy_bits(hist) / 8,
                       o.compare_with_zstd ? zstd_size(l.quant.codes) : -1});
    return;
  }
  std::vector<float> values;
  for (size_t i = 0; i < lay.mask.size(); ++i)
    if (lay.mask[i]) values.push_back(l.weight.data[i]);
  const size_t before = out->size();
  put_floats(out, values, kFloat32);
  ledger->push_back({l.name, "values", out->size() - before, "f32", -1, -1});
}

// Chooses how a layer is stored and encodes its LAYER payload, appending ledger rows and
// raising *minor to the format minor version that the payload needs.
// int8: the layer's 8-bit biases when floats is kInt8Bias.
Result<std::string> encode_layer(const Layer& l, uint32_t index, FloatCoding floats,
                                 const Int8Biases& int8, const SqzEncodeOptions& o,
                                 std::vector<LedgerRow>* ledger, uint16_t* minor) {
  const LayerLayout lay = choose_layout(l);
  if (floats == kFloat16) *minor = std::max<uint16_t>(*minor, 1);
  if (lay.pos.coding == kGapsStoredKernels || floats == kInt8Bias)
    *minor = std::max<uint16_t>(*minor, 2);
  std::string out;
  put_layer_header(l, index, floats, lay, &out);
  ledger->push_back({l.name, "layer-header", out.size(), "", -1, -1});
  put_bias(l, floats, int8, &out, ledger);
  if (lay.kind == kSparseCodebook) {
    const FloatCoding book_floats = floats == kFloat32 ? kFloat32 : kFloat16;
    const size_t before = out.size();
    put_u16(&out, static_cast<uint16_t>(l.quant.codebook.size()));
    put_floats(&out, l.quant.codebook, book_floats);
    ledger->push_back(
        {l.name, "codebook", out.size() - before, kFloatCodingNames[book_floats], -1, -1});
  }
  if (lay.pos.coding != kAll) put_positions(l, lay.pos, o, &out, ledger);
  put_values(l, lay, o, &out, ledger);
  return out;
}

}  // namespace

bool has_sqz_magic(std::string_view bytes) {
  return bytes.size() >= 8 && std::equal(bytes.begin(), bytes.begin() + 8, kMagic);
}

namespace {

// The model as it will be written: codes expanded and codebooks canonical; refuses what the
// reader would (non-finite centroids, an invalid graph, metadata past the SPEC's limits).
Status prepare_for_writing(const SqzEncodeOptions& o, Model* model) {
  for (Layer& l : model->layers) {
    expand_codes(l);  // a codes-only layer (read for the runtime) is written whole
    if (!l.quant.active()) continue;
    for (float c : l.quant.codebook)
      SQZ_RETURN_ERROR_IF(!std::isfinite(c), ErrorCode::kInvalidArgument,
                          "layer '" + l.name + "' has a non-finite centroid");
    canonicalize_codebook(l);
  }
  SQZ_RETURN_IF_ERROR(validate_and_infer(*model).status());
  // The writer writes nothing its reader refuses (SPEC: str, METADATA).
  SQZ_RETURN_ERROR_IF(o.metadata.size() > 4096, ErrorCode::kLimit,
                      "more than 4096 metadata entries");
  for (const auto& [key, value] : o.metadata)
    SQZ_RETURN_ERROR_IF(key.size() > kMaxString || value.size() > kMaxString, ErrorCode::kLimit,
                        "metadata '" + key.substr(0, 64) + "' is longer than " +
                            std::to_string(kMaxString) + " bytes (split it over several entries)");
  return Status::ok();
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

bool half_holds(const std::vector<float>& v) {
  std::vector<float> r = v;
  return round_to_half(&r) && same_bits(r, v);
}

// Whether `coding` stores the layer's biases and codebook bit for bit, so that choosing it
// loses nothing (a .sqz read and written again keeps the codings it was written with).
bool holds_exactly(const Layer& l, FloatCoding coding) {
  if (!half_holds(l.quant.codebook)) return false;
  if (coding == kFloat16) return half_holds(l.bias.data);
  return std::all_of(l.bias.data.begin(), l.bias.data.end(),
                     [](float v) { return std::isfinite(v); }) &&
         same_bits(dequantize_biases(quantize_biases(l.bias.data)), l.bias.data);
}

// Each convolution's float coding for biases and codebooks: the most compact one the options
// allow that holds its values (try_float_coding), else the most compact that holds them
// exactly, else float32.
void choose_float_codings(Model* model, const SqzEncodeOptions& o, std::vector<FloatCoding>* floats,
                          std::vector<Int8Biases>* int8) {
  floats->assign(model->layers.size(), kFloat32);
  int8->assign(model->layers.size(), Int8Biases{});
  for (size_t i = 0; i < floats->size(); ++i) {
    Layer& l = model->layers[i];
    if (l.op != OpKind::kConvolution) continue;
    const bool int8_ok = o.int8_biases || holds_exactly(l, kInt8Bias);
    const bool half_ok = o.half_floats || o.int8_biases || holds_exactly(l, kFloat16);
    if (int8_ok && try_float_coding(l, kInt8Bias, &(*int8)[i]))
      (*floats)[i] = kInt8Bias;
    else if (half_ok && try_float_coding(l, kFloat16, nullptr))
      (*floats)[i] = kFloat16;
  }
}

// Header, directory, payloads and trailer (SPEC: file layout), with their ledger rows.
std::string assemble(const std::vector<Section>& sections, uint16_t minor, bool has_metadata,
                     const std::vector<LedgerRow>& layer_rows, std::vector<LedgerRow>* ledger) {
  std::string out(kMagic, 8);
  put_u16(&out, kSqzVersionMajor);
  put_u16(&out, minor);
  put_u32(&out, static_cast<uint32_t>(sections.size()));
  for (const Section& s : sections) {
    put_u16(&out, s.type);
    put_u16(&out, s.flags);
    put_u32(&out, crc32c(s.payload.data(), s.payload.size()));
    put_u32(&out, static_cast<uint32_t>(s.payload.size()));
  }
  ledger->push_back({"", "header", kHeaderBytes, "", -1, -1});
  ledger->push_back({"", "directory", kDirEntryBytes * sections.size(), "", -1, -1});
  for (const Section& s : sections) out += s.payload;
  ledger->push_back({"", "graph", sections[0].payload.size(), "zstd", -1, -1});
  if (has_metadata) ledger->push_back({"", "metadata", sections[1].payload.size(), "zstd", -1, -1});
  ledger->insert(ledger->end(), layer_rows.begin(), layer_rows.end());
  put_u32(&out, crc32c(out.data(), out.size()));
  ledger->push_back({"", "trailer", kTrailerBytes, "crc32c", -1, -1});
  return out;
}

}  // namespace

Result<SqzFile> encode_sqz(const Model& input, const SqzEncodeOptions& o, std::string* bytes) {
  SqzFile file;
  file.model = input;
  file.metadata = o.metadata;
  SQZ_RETURN_IF_ERROR(prepare_for_writing(o, &file.model));
  std::vector<FloatCoding> floats;
  std::vector<Int8Biases> int8;
  choose_float_codings(&file.model, o, &floats, &int8);
  const Model& m = file.model;
  std::vector<Section> sections;
  std::vector<LedgerRow> layer_rows;
  uint16_t minor = 0;  // the smallest that the file needs: older readers read what they can
  sections.push_back({kGraph, kRequired | kZstd, zstd(encode_graph(m, &minor), o.zstd_level)});
  if (!o.metadata.empty())
    sections.push_back({kMetadata, kZstd, zstd(encode_metadata(o.metadata), o.zstd_level)});
  for (size_t i = 0; i < m.layers.size(); ++i) {
    if (m.layers[i].op != OpKind::kConvolution) continue;
    SQZ_ASSIGN_OR_RETURN(std::string payload,
                         encode_layer(m.layers[i], static_cast<uint32_t>(i), floats[i], int8[i], o,
                                      &layer_rows, &minor));
    sections.push_back({kLayer, kRequired, std::move(payload)});
  }
  std::string out = assemble(sections, minor, !o.metadata.empty(), layer_rows, &file.ledger);
  file.file_bytes = out.size();
  *bytes = std::move(out);
  return file;
}

}  // namespace sqz::format
