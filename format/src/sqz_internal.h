// Pieces of the .sqz codec shared by writer and reader (format/SPEC.md).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "sqz/core/byte_io.h"
#include "sqz/core/graph.h"
#include "sqz/format/sqz_file.h"

namespace sqz::format::detail {

constexpr char kMagic[8] = {'\x89', 'S', 'Q', 'Z', '\r', '\n', '\x1a', '\n'};
constexpr size_t kHeaderBytes = 16, kDirEntryBytes = 12, kTrailerBytes = 4;
constexpr uint32_t kMaxSections = 65536;
constexpr size_t kMaxString = 4096, kMaxDecompressed = size_t{64} << 20;

enum SectionType : uint16_t { kGraph = 1, kMetadata = 2, kLayer = 3 };
enum SectionFlags : uint16_t { kRequired = 1, kZstd = 2 };
enum WeightKind : uint8_t { kDense = 0, kSparseF32 = 1, kSparseCodebook = 2 };
enum PositionCoding : uint8_t {
  kAll = 0,
  kGapsStored = 1,
  kGapsPruned = 2,
  kBitmap = 3,
  kGapsStoredKernels = 4,  // since 1.2
};
constexpr const char* kPositionCodingNames[] = {"", "gaps-stored", "gaps-pruned", "bitmap",
                                                "gaps-kernels"};
// LAYER bias and codebook: f32; f16 (1.1); 8-bit biases and f16 codebook (1.2).
enum FloatCoding : uint8_t { kFloat32 = 0, kFloat16 = 1, kInt8Bias = 2 };
constexpr const char* kFloatCodingNames[] = {"f32", "f16", "i8"};

// 8-bit biases (float_coding 2): bias = scale x q, q in -127..127.
struct Int8Biases {
  float scale = 0;
  std::vector<int8_t> q;
};
// Symmetric linear quantization with scale = max|b| / 127 (b finite).
Int8Biases quantize_biases(const std::vector<float>& b);
// The biases that every reader decodes: scale x q, one binary32 multiplication each.
std::vector<float> dequantize_biases(const Int8Biases& b);

// IEEE binary16 bits of f, rounded to nearest even (Eigen::half); and back.
uint16_t f32_to_f16(float f);
float f16_to_f32(uint16_t bits);

void put_str(std::string* out, const std::string& s);
bool get_str(ByteReader& r, std::string* s);

// Raises *minor to the format minor version the graph needs.
std::string encode_graph(const Model& m, uint16_t* minor);
// minor: the file's format minor version (it decides how old files' fields read).
Status decode_graph(std::string_view bytes, uint16_t minor, Model* m);
std::string encode_metadata(const Metadata& md);
Status decode_metadata(std::string_view bytes, Metadata* md);

// A chosen position coding with its encoded Huffman block.
struct EncodedPositions {
  PositionCoding coding = kAll;
  uint16_t gap_limit = 0;
  uint32_t symbols = 0;
  std::string block;
  double entropy_bits = 0;
  std::vector<uint8_t> zstd_input;  // the bitmap, for the ledger's zstd comparison
};

// Picks the smallest coding of the mask (flags, 1 = stored). stored == numel: kAll.
// window: positions per kernel (k_h x k_w); kGapsStoredKernels is considered when it is >= 2
// and the mask keeps or prunes every kernel whole.
EncodedPositions encode_positions(const std::vector<uint8_t>& mask, int64_t stored, int64_t window);

// Decodes a position block into mask (numel flags); checks the stored count.
Status decode_positions(PositionCoding coding, uint16_t gap_limit, uint32_t symbols,
                        std::string_view block, int64_t numel, int64_t stored, int64_t window,
                        std::vector<uint8_t>* mask);

}  // namespace sqz::format::detail
