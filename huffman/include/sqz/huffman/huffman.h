// Canonical, length-limited Huffman coding of small-alphabet symbol arrays. Knows nothing
// about networks. Block format: format/SPEC.md, "Huffman block".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sqz/core/status.h"

namespace sqz {
namespace huffman {}
namespace huff = huffman;  // the 0.1 name, kept for embedders
}  // namespace sqz

namespace sqz::huffman {

constexpr int kMaxCodeLength = 15;
constexpr int kMaxAlphabet = 4096;

// Optimal code lengths under a length limit (package-merge; Larmore & Hirschberg 1990).
// Unused symbols get 0; a lone used symbol gets 1. REQUIRES: 1 <= max_length <= 15 and
// 2^max_length >= number of used symbols.
std::vector<uint8_t> code_lengths(const std::vector<uint64_t>& histogram, int max_length);

// Canonical codes from lengths (RFC 1951, 3.2.2): shorter codes first, then by symbol.
std::vector<uint32_t> canonical_codes(const std::vector<uint8_t>& lengths);

// Bits of the payload for this histogram under these lengths.
uint64_t payload_bits(const std::vector<uint64_t>& histogram, const std::vector<uint8_t>& lengths);

// Order-0 entropy of a histogram, in bits (total, not per symbol).
double entropy_bits(const std::vector<uint64_t>& histogram);

// Encodes symbols (each < alphabet_size, 1 <= alphabet_size <= kMaxAlphabet) into a
// self-describing block: code table + 1 or 4 interleaved bit streams.
std::string encode_block(const std::vector<uint16_t>& symbols, int alphabet_size);

// Decodes a block holding exactly count symbols, each < alphabet_size, into out. Every
// inconsistency (a table that is not a prefix code, a stream too short or with trailing
// bytes, a symbol outside the alphabet) is an error (kCorrupt); reads never leave block.
Status decode_block(std::string_view block, int alphabet_size, size_t count, uint16_t* out);
// The same into bytes, for alphabets of at most 256 symbols (kInvalidArgument otherwise).
Status decode_block(std::string_view block, int alphabet_size, size_t count, uint8_t* out);

// Size of the block encode_block would produce, in bytes (for choosing between codings).
size_t encoded_block_size(const std::vector<uint64_t>& histogram);

}  // namespace sqz::huffman
