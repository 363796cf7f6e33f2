#include <zstd.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

#include "sqz/core/crc32c.h"
#include "sqz/core/file_io.h"
#include "sqz/huffman/huffman.h"
#include "sqz_internal.h"

namespace sqz::format {
namespace {

using namespace detail;

#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
constexpr bool kVerifyChecksums = false;  // fuzzing: let mutations reach the parsers
#else
constexpr bool kVerifyChecksums = true;
#endif

struct DirEntry {
  uint16_t type, flags;
  uint32_t crc, size;
  std::string_view payload;
};

// Decompresses one zstd frame in bounded steps: the size its header declares is checked, not
// trusted, so a small section can never make the reader hold more than kMaxDecompressed.
Result<std::string> unzstd(std::string_view in, const char* what) {
  const std::string section = std::string(what) + " section";
  const unsigned long long n = ZSTD_getFrameContentSize(in.data(), in.size());
  SQZ_RETURN_ERROR_IF(n == ZSTD_CONTENTSIZE_ERROR || n == ZSTD_CONTENTSIZE_UNKNOWN,
                      ErrorCode::kCorrupt, section + " is not a zstd frame with its size");
  SQZ_RETURN_ERROR_IF(n > kMaxDecompressed, ErrorCode::kLimit,
                      section + " declares " + std::to_string(n) +
                          " bytes, more than the limit of " + std::to_string(kMaxDecompressed));
  std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> ctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
  SQZ_RETURN_ERROR_IF(!ctx, ErrorCode::kLimit, section + ": out of memory");
  ZSTD_DCtx_setParameter(ctx.get(), ZSTD_d_windowLogMax, 27);  // 128 MiB windows at most
  ZSTD_inBuffer src{in.data(), in.size(), 0};
  std::string out;
  std::vector<char> buf(size_t{1} << 16);
  for (;;) {
    ZSTD_outBuffer dst{buf.data(), buf.size(), 0};
    const size_t left = ZSTD_decompressStream(ctx.get(), &dst, &src);
    SQZ_RETURN_ERROR_IF(ZSTD_isError(left), ErrorCode::kCorrupt, section + " does not decompress");
    SQZ_RETURN_ERROR_IF(
        out.size() + dst.pos > n, ErrorCode::kCorrupt,
        section + " decompresses to more than the " + std::to_string(n) + " bytes it declares");
    out.append(buf.data(), dst.pos);
    if (left == 0) break;  // the frame is complete
    SQZ_RETURN_ERROR_IF(src.pos == src.size && dst.pos < dst.size, ErrorCode::kCorrupt,
                        section + " is a truncated zstd frame");
  }
  SQZ_RETURN_ERROR_IF(src.pos != src.size || out.size() != n, ErrorCode::kCorrupt,
                      section + " does not decompress to the size it declares");
  return out;
}

Result<std::vector<DirEntry>> read_directory(std::string_view bytes, uint16_t* minor_out) {
  SQZ_RETURN_ERROR_IF(!has_sqz_magic(bytes), ErrorCode::kParse, "not a .sqz file (bad magic)");
  ByteReader r(bytes.substr(8));
  uint16_t major, minor;
  uint32_t count;
  SQZ_RETURN_ERROR_IF(!r.get_u16(&major) || !r.get_u16(&minor) || !r.get_u32(&count),
                      ErrorCode::kCorrupt, "truncated header");
  SQZ_RETURN_ERROR_IF(major > kSqzVersionMajor, ErrorCode::kUnsupported,
                      "format version " + std::to_string(major) + "." + std::to_string(minor) +
                          " is newer than this reader's " + std::to_string(kSqzVersionMajor) + "." +
                          std::to_string(kSqzVersionMinor) + "; upgrade squeeze-compress");
  SQZ_RETURN_ERROR_IF(major < 1, ErrorCode::kCorrupt, "format version 0 does not exist");
  *minor_out = minor;
  SQZ_RETURN_ERROR_IF(
      count == 0 || count > kMaxSections || count > (bytes.size() - kHeaderBytes) / kDirEntryBytes,
      ErrorCode::kCorrupt, "section count " + std::to_string(count) + " is impossible");
  std::vector<DirEntry> dir(count);
  uint64_t total = kHeaderBytes + uint64_t{kDirEntryBytes} * count + kTrailerBytes;
  for (DirEntry& e : dir) {
    (void)(r.get_u16(&e.type) && r.get_u16(&e.flags) && r.get_u32(&e.crc) && r.get_u32(&e.size));
    SQZ_RETURN_ERROR_IF(e.flags & ~(kRequired | kZstd), ErrorCode::kCorrupt,
                        "reserved section flags are set");
    total += e.size;
  }
  SQZ_RETURN_ERROR_IF(total != bytes.size(), ErrorCode::kCorrupt,
                      "file is " + std::to_string(bytes.size()) +
                          " bytes but its directory accounts for " + std::to_string(total) +
                          " (truncated or padded)");
  const uint32_t file_crc =
      load_u32(reinterpret_cast<const uint8_t*>(bytes.data()) + bytes.size() - 4);
  SQZ_RETURN_ERROR_IF(kVerifyChecksums && crc32c(bytes.data(), bytes.size() - 4) != file_crc,
                      ErrorCode::kCorrupt, "file checksum mismatch (the file is corrupt)");
  size_t offset = kHeaderBytes + kDirEntryBytes * count;
  for (size_t i = 0; i < dir.size(); ++i) {
    DirEntry& e = dir[i];
    e.payload = bytes.substr(offset, e.size);
    offset += e.size;
    SQZ_RETURN_ERROR_IF(kVerifyChecksums && crc32c(e.payload.data(), e.payload.size()) != e.crc,
                        ErrorCode::kCorrupt, "section " + std::to_string(i) + " checksum mismatch");
  }
  return dir;
}

Status read_floats(ByteReader& r, size_t n, FloatCoding coding, std::vector<float>* out,
                   const std::string& what) {
  const size_t width = coding == kFloat16 ? 2 : 4;
  SQZ_RETURN_ERROR_IF(r.left() / width < n, ErrorCode::kCorrupt, "truncated " + what);
  out->resize(n);
  uint16_t half;
  for (float& f : *out)
    if (coding == kFloat16)
      f = r.get_u16(&half) ? f16_to_f32(half) : 0.0f;
    else
      (void)r.get_f32(&f);
  return Status::ok();
}

// float_coding 2: f32 scale, then n int8 in -127..127 (SPEC, LAYER).
Status read_int8_biases(ByteReader& r, size_t n, std::vector<float>* out, const std::string& what) {
  if (n == 0) return Status::ok();
  Int8Biases b;
  std::string_view bytes;
  SQZ_RETURN_ERROR_IF(!r.get_f32(&b.scale) || !r.get_bytes(n, &bytes), ErrorCode::kCorrupt,
                      "truncated " + what);
  SQZ_RETURN_ERROR_IF(!std::isfinite(b.scale) || !(b.scale >= 0), ErrorCode::kCorrupt,
                      what + " scale is negative or not finite");
  for (char c : bytes) {
    SQZ_RETURN_ERROR_IF(static_cast<int8_t>(c) == -128, ErrorCode::kCorrupt,
                        what + " value -128 is outside -127..127");
    b.q.push_back(static_cast<int8_t>(c));
  }
  *out = dequantize_biases(b);
  return Status::ok();
}

Status read_block(ByteReader& r, std::string_view* block, const std::string& what) {
  uint32_t size;
  SQZ_RETURN_ERROR_IF(!r.get_u32(&size) || !r.get_bytes(size, block), ErrorCode::kCorrupt,
                      "truncated " + what);
  return Status::ok();
}

// The codebook of k <= 2^bits strictly ascending finite centroids.
Status read_codebook(ByteReader& r, int bits, FloatCoding coding, std::vector<float>* book,
                     const std::string& who) {
  uint16_t k;
  SQZ_RETURN_ERROR_IF(!r.get_u16(&k) || k == 0 || k > (1u << bits), ErrorCode::kCorrupt,
                      who + "bad codebook size");
  SQZ_RETURN_IF_ERROR(read_floats(r, k, coding, book, who + "codebook"));
  for (size_t j = 0; j < k; ++j)
    SQZ_RETURN_ERROR_IF(!std::isfinite((*book)[j]) || (j > 0 && !((*book)[j - 1] < (*book)[j])),
                        ErrorCode::kCorrupt, who + "codebook is not strictly ascending");
  return Status::ok();
}

// The layer's `stored` weights at its mask's positions (all numel without a mask): Huffman
// codes into its codebook, or float32 values.
Status read_weights(ByteReader& r, bool codebook, uint32_t stored, int64_t numel, bool dense,
                    Layer& l, const std::string& who) {
  const uint8_t* mask = l.mask.empty() ? nullptr : l.mask.data();
  if (codebook) {
    std::string_view block;
    SQZ_RETURN_IF_ERROR(read_block(r, &block, who + "values"));
    std::vector<uint8_t>& codes = l.quant.codes;
    codes.resize(static_cast<size_t>(stored) + 1);  // +1: see the scatter
    Status s = huffman::decode_block(block, static_cast<int>(l.quant.codebook.size()), stored,
                                     codes.data());
    if (!s.is_ok()) return s.with_context("layer '" + l.name + "' values");
    codes[stored] = 0;
    if (!dense) {  // codes only: the runtime packs them itself
      codes.pop_back();
      return Status::ok();
    }
    // Every position is written below: no need to clear the weights first.
    l.weight.data.resize(static_cast<size_t>(numel));
    float* w = l.weight.data.data();
    const float* book = l.quant.codebook.data();
    if (mask) {  // branch-free scatter: k may reach `stored`, whose code slot is a valid 0
      for (int64_t i = 0, k = 0; i < numel; ++i) {
        uint32_t bits;
        std::memcpy(&bits, &book[codes[static_cast<size_t>(k)]], 4);
        bits &= 0u - mask[i];  // +0.0f at pruned positions, bit for bit
        std::memcpy(&w[i], &bits, 4);
        k += mask[i];
      }
    } else {
      for (int64_t i = 0; i < numel; ++i) w[i] = book[codes[static_cast<size_t>(i)]];
    }
    codes.pop_back();
  } else {
    SQZ_RETURN_ERROR_IF(r.left() / 4 < stored, ErrorCode::kCorrupt, who + "truncated values");
    l.weight.data.assign(static_cast<size_t>(numel), 0.0f);
    float* w = l.weight.data.data();
    for (int64_t i = 0; i < numel; ++i)
      if (!mask || mask[i]) (void)r.get_f32(&w[i]);
  }
  return Status::ok();
}

// A LAYER payload's fixed fields (SPEC: LAYER).
struct LayerHeader {
  uint32_t index = 0, stored = 0, symbols = 0;
  uint8_t kind = 0, coding = 0, bits = 0, floats = 0;
  uint16_t gap_limit = 0;
};

// The fields after the layer index, checked against each other and the layer's numel.
Status read_layer_header(ByteReader& r, int64_t numel, const std::string& who, LayerHeader* h) {
  SQZ_RETURN_ERROR_IF(h->floats > kInt8Bias || h->kind > kSparseCodebook ||
                          h->coding > kGapsStoredKernels,
                      ErrorCode::kCorrupt, who + "unknown weight kind, position or float coding");
  SQZ_RETURN_ERROR_IF(h->stored > numel || (h->coding == kAll && h->stored != numel) ||
                          (h->kind == kDense && h->coding != kAll) ||
                          (h->kind == kSparseCodebook) != (h->bits != 0) || h->bits > 8,
                      ErrorCode::kCorrupt, who + "inconsistent LAYER header");
  if (h->coding != kAll && h->coding != kBitmap)
    SQZ_RETURN_ERROR_IF(!r.get_u16(&h->gap_limit), ErrorCode::kCorrupt, who + "truncated header");
  if (h->coding != kAll)
    SQZ_RETURN_ERROR_IF(!r.get_u32(&h->symbols), ErrorCode::kCorrupt, who + "truncated header");
  return Status::ok();
}

// The layer a LAYER section fills, its weight shape set from its input's; refuses a layer
// that is not an unfilled convolution, or more weights than the section can pay for.
Result<Layer*> claim_layer(const LayerHeader& h, size_t payload_bytes, Model& m,
                           std::vector<bool>& seen, const std::map<std::string, Shape>& shapes) {
  SQZ_RETURN_ERROR_IF(
      h.index >= m.layers.size() || m.layers[h.index].op != OpKind::kConvolution || seen[h.index],
      ErrorCode::kCorrupt,
      "LAYER section names layer " + std::to_string(h.index) +
          ", which is not an unfilled convolution");
  seen[h.index] = true;
  Layer& l = m.layers[h.index];
  const Shape& in = shapes.at(l.inputs[0]);
  l.weight.shape = {l.conv.out_channels, in[1] / l.conv.groups, l.conv.kernel_h, l.conv.kernel_w};
  const int64_t numel = shape_numel(l.weight.shape);
  // A layer's positions must be paid for by the file: at most 512 weights per byte of the
  // LAYER section plus 2^20, so that a small file cannot make the reader allocate gigabytes.
  SQZ_RETURN_ERROR_IF(numel > (int64_t{1} << 20) + 512 * static_cast<int64_t>(payload_bytes),
                      ErrorCode::kLimit,
                      "layer '" + l.name + "': " + std::to_string(numel) +
                          " weights is more than a section of " + std::to_string(payload_bytes) +
                          " bytes can describe");
  return &l;
}

// Biases, codebook, positions and weights after the header, with a ledger row for each part.
Status read_layer_body(ByteReader& r, std::string_view payload, const LayerHeader& h, bool dense,
                       Layer& l, std::vector<LedgerRow>* ledger) {
  const std::string who = "layer '" + l.name + "': ";
  const int64_t numel = shape_numel(l.weight.shape);
  const FloatCoding float_coding = static_cast<FloatCoding>(h.floats);
  const FloatCoding book_coding = float_coding == kFloat32 ? kFloat32 : kFloat16;
  size_t mark = 0;
  auto row = [&](const char* part, const std::string& coding) {
    const size_t at = payload.size() - r.left();
    ledger->push_back({l.name, part, at - mark, coding, -1, -1});
    mark = at;
  };
  row("layer-header", "");
  l.bias.shape = l.conv.has_bias ? Shape{l.conv.out_channels} : Shape{};
  const size_t biases = static_cast<size_t>(shape_numel(l.bias.shape)) * l.conv.has_bias;
  if (float_coding == kInt8Bias)
    SQZ_RETURN_IF_ERROR(read_int8_biases(r, biases, &l.bias.data, who + "bias"));
  else
    SQZ_RETURN_IF_ERROR(read_floats(r, biases, float_coding, &l.bias.data, who + "bias"));
  if (!l.conv.has_bias) l.bias = {};
  row("bias", kFloatCodingNames[float_coding]);
  if (h.kind == kSparseCodebook) {
    SQZ_RETURN_IF_ERROR(read_codebook(r, h.bits, book_coding, &l.quant.codebook, who));
    l.quant.bits = h.bits;
    row("codebook", kFloatCodingNames[book_coding]);
  }
  if (h.coding != kAll) {
    std::string_view block;
    SQZ_RETURN_IF_ERROR(read_block(r, &block, who + "positions"));
    Status s = decode_positions(static_cast<PositionCoding>(h.coding), h.gap_limit, h.symbols,
                                block, numel, h.stored, l.conv.kernel_h * l.conv.kernel_w, &l.mask);
    if (!s.is_ok()) return s.with_context("layer '" + l.name + "' positions");
    row("positions", std::string(kPositionCodingNames[h.coding]) +
                         (h.coding == kBitmap ? "" : "<" + std::to_string(h.gap_limit)));
  } else if (h.kind != kDense) {
    l.mask.assign(static_cast<size_t>(numel), 1);
  }
  SQZ_RETURN_IF_ERROR(read_weights(r, h.kind == kSparseCodebook, h.stored, numel, dense, l, who));
  SQZ_RETURN_ERROR_IF(r.left() != 0, ErrorCode::kCorrupt, who + "LAYER section has trailing bytes");
  row("values", h.kind == kSparseCodebook ? "huffman" : "f32");
  return Status::ok();
}

Status decode_layer(std::string_view payload, Model& m, std::vector<bool>& seen,
                    const std::map<std::string, Shape>& shapes, bool dense,
                    std::vector<LedgerRow>* ledger) {
  ByteReader r(payload);
  LayerHeader h;
  SQZ_RETURN_ERROR_IF(!r.get_u32(&h.index) || !r.get_u8(&h.kind) || !r.get_u8(&h.coding) ||
                          !r.get_u8(&h.bits) || !r.get_u8(&h.floats) || !r.get_u32(&h.stored),
                      ErrorCode::kCorrupt, "truncated LAYER header");
  SQZ_ASSIGN_OR_RETURN(Layer * l, claim_layer(h, payload.size(), m, seen, shapes));
  const std::string who = "layer '" + l->name + "': ";
  SQZ_RETURN_IF_ERROR(read_layer_header(r, shape_numel(l->weight.shape), who, &h));
  return read_layer_body(r, payload, h, dense, *l, ledger);
}

}  // namespace

Result<SqzFile> decode_sqz(std::string_view bytes, const SqzDecodeOptions& options) {
  SQZ_RETURN_ERROR_IF(bytes.size() < kHeaderBytes + kTrailerBytes, ErrorCode::kCorrupt,
                      bytes.size() >= 8 && has_sqz_magic(bytes) ? "truncated .sqz file"
                                                                : "not a .sqz file (too short)");
  uint16_t minor = 0;
  SQZ_ASSIGN_OR_RETURN(std::vector<DirEntry> dir, read_directory(bytes, &minor));
  SqzFile f;
  f.file_bytes = bytes.size();
  SQZ_RETURN_ERROR_IF(dir[0].type != kGraph, ErrorCode::kCorrupt, "the first section is not GRAPH");
  std::map<std::string, Shape> shapes;
  std::vector<bool> seen;
  bool have_metadata = false;
  for (size_t i = 0; i < dir.size(); ++i) {
    const DirEntry& e = dir[i];
    std::string plain;
    std::string_view payload = e.payload;
    if (e.flags & kZstd) {
      SQZ_ASSIGN_OR_RETURN(plain, unzstd(e.payload, e.type == kGraph      ? "GRAPH"
                                                    : e.type == kMetadata ? "METADATA"
                                                                          : "a compressed"));
      payload = plain;
    }
    if (e.type == kGraph) {
      SQZ_RETURN_ERROR_IF(i != 0, ErrorCode::kCorrupt, "more than one GRAPH section");
      SQZ_RETURN_IF_ERROR(decode_graph(payload, minor, &f.model));
      // LAYER's layer_index counts GRAPH records as stored: check and infer on a copy, which
      // shape inference may put in topological order, and keep the record order until every
      // LAYER has been matched (SPEC: "index of a Convolution record in GRAPH").
      Model sorted = f.model;
      SQZ_ASSIGN_OR_RETURN(shapes, validate_and_infer(sorted, 0, /*check_weights=*/false));
      seen.assign(f.model.layers.size(), false);
      f.ledger.push_back({"", "graph", e.size, "zstd", -1, -1});
    } else if (e.type == kMetadata) {
      SQZ_RETURN_ERROR_IF(have_metadata, ErrorCode::kCorrupt, "more than one METADATA section");
      have_metadata = true;
      SQZ_RETURN_IF_ERROR(decode_metadata(payload, &f.metadata));
      f.ledger.push_back({"", "metadata", e.size, "zstd", -1, -1});
    } else if (e.type == kLayer) {
      SQZ_RETURN_IF_ERROR(decode_layer(payload, f.model, seen, shapes, options.dense_weights, &f.ledger));
    } else {
      SQZ_RETURN_ERROR_IF(e.flags & kRequired, ErrorCode::kUnsupported,
                          "required section of unknown type " + std::to_string(e.type) +
                              " (written by a newer version?)");
    }
  }
  for (size_t i = 0; i < f.model.layers.size(); ++i)
    SQZ_RETURN_ERROR_IF(f.model.layers[i].op == OpKind::kConvolution && !seen[i],
                        ErrorCode::kCorrupt,
                        "no LAYER section for layer '" + f.model.layers[i].name + "'");
  SQZ_RETURN_IF_ERROR(validate_and_infer(f.model).status());  // now in topological order
  // Weights, masks and codes are consistent by construction; the graph was checked above.
  f.ledger.insert(f.ledger.begin(), {{"", "header", kHeaderBytes, "", -1, -1},
                                     {"", "directory", kDirEntryBytes * dir.size(), "", -1, -1}});
  f.ledger.push_back({"", "trailer", kTrailerBytes, "crc32c", -1, -1});
  return f;
}

Result<SqzFile> read_sqz(const std::string& path, const SqzDecodeOptions& options) {
  SQZ_ASSIGN_OR_RETURN(std::string bytes, read_file(path));
  Result<SqzFile> f = decode_sqz(bytes, options);
  if (!f.is_ok()) return f.status().with_context(path);
  return f;
}

}  // namespace sqz::format
