// The .sqz compressed-model file (format/SPEC.md): writer, reader and size ledger.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sqz/core/graph.h"
#include "sqz/core/status.h"

namespace sqz::format {

constexpr int kSqzVersionMajor = 1;
constexpr int kSqzVersionMinor = 3;  // the newest minor version this library reads and writes

// One line of the size ledger: the rows of a file sum exactly to its size.
struct LedgerRow {
  std::string layer;  // "" for file-level parts
  std::string part;   // header, directory, trailer, graph, metadata, layer-header, bias,
                      // codebook, positions, values
  uint64_t bytes = 0;
  std::string coding;         // e.g. "gaps<16", "bitmap", "huffman", "f32"
  double entropy_bytes = -1;  // order-0 entropy of the symbols this part codes, when it applies
  int64_t zstd_bytes = -1;    // zstd at its highest level on the same symbols (one per byte)
};

using Metadata = std::vector<std::pair<std::string, std::string>>;

struct SqzEncodeOptions {
  Metadata metadata;
  int zstd_level = 19;             // for GRAPH and METADATA
  bool compare_with_zstd = false;  // fill LedgerRow::zstd_bytes (slow: zstd -22 per stream)
  // Without half_floats or int8_biases a layer still takes binary16 or 8-bit biases where they
  // hold its values bit for bit (a .sqz decoded and encoded again keeps its codings and size).
  // Store biases and codebooks as binary16 (SPEC 1.1) in every layer where they stay finite
  // and the codebook strictly ascending; the returned SqzFile::model holds the rounded values.
  bool half_floats = false;
  // Store biases as 8-bit (scale x int8, SPEC 1.2) and codebooks as binary16, in every layer
  // where they stay finite and the codebook strictly ascending (else as half_floats would,
  // else float32). Lossy: the returned SqzFile::model holds the values that readers decode.
  bool int8_biases = false;
};

struct SqzFile {
  Model model;  // with masks and codebooks as stored; weights decoded to float32 (or codes only)
  Metadata metadata;
  std::vector<LedgerRow> ledger;
  uint64_t file_bytes = 0;
};

// Encodes a validated model. A layer with an active Quantization is stored as sparse
// codebook (kind 2); with a mask as sparse float32 (kind 1); otherwise dense (kind 0),
// unless sparse is smaller.
Result<SqzFile> encode_sqz(const Model& model, const SqzEncodeOptions& options, std::string* bytes);

struct SqzDecodeOptions {
  // false: quantized layers keep their codes only (Layer::codes_only), without the float32
  // weights they stand for; what the runtime needs (it packs the codes itself).
  bool dense_weights = true;
};

// Decodes and checks everything (CRCs, every count against the bytes left, the graph).
// Errors are kCorrupt / kUnsupported with a one-line cause.
Result<SqzFile> decode_sqz(std::string_view bytes, const SqzDecodeOptions& options = {});

// read_file + decode_sqz; errors name the path.
Result<SqzFile> read_sqz(const std::string& path, const SqzDecodeOptions& options = {});

// True when bytes start with the .sqz magic.
bool has_sqz_magic(std::string_view bytes);

}  // namespace sqz::format
