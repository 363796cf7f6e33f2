// Position codings of a layer's mask (format/SPEC.md, LAYER): gaps with an escape symbol
// between stored or between pruned positions, or a Huffman-coded bitmap, whichever is smallest.
#include <algorithm>
#include <array>
#include <cstring>

#include "sqz/huffman/huffman.h"
#include "sqz_internal.h"

namespace sqz::format::detail {
namespace {

// Gap symbols (< G) and escapes (= G) over the positions where mask == want.
std::vector<uint16_t> gap_symbols(const std::vector<uint8_t>& mask, uint8_t want, int g) {
  std::vector<uint16_t> out;
  int64_t prev = -1;
  for (int64_t p = 0; p < static_cast<int64_t>(mask.size()); ++p) {
    if (mask[static_cast<size_t>(p)] != want) continue;
    int64_t gap = p - prev - 1;
    for (; gap >= g; gap -= g) out.push_back(static_cast<uint16_t>(g));
    out.push_back(static_cast<uint16_t>(gap));
    prev = p;
  }
  return out;
}

// One flag per kernel of `window` positions if every kernel is kept or pruned whole.
bool kernel_flags(const std::vector<uint8_t>& mask, int64_t window, std::vector<uint8_t>* flags) {
  if (window < 2 || mask.size() % static_cast<size_t>(window) != 0) return false;
  flags->assign(mask.size() / static_cast<size_t>(window), 0);
  for (size_t k = 0; k < flags->size(); ++k) {
    const auto first = mask.begin() + static_cast<std::ptrdiff_t>(k * window);
    if (std::count(first, first + window, mask[k * window]) != window) return false;
    (*flags)[k] = mask[k * window];
  }
  return true;
}

std::vector<uint16_t> bitmap_symbols(const std::vector<uint8_t>& mask) {
  std::vector<uint16_t> out((mask.size() + 7) / 8, 0);
  for (size_t p = 0; p < mask.size(); ++p)
    if (mask[p]) out[p / 8] |= static_cast<uint16_t>(1u << (p % 8));
  return out;
}

std::vector<uint64_t> histogram(const std::vector<uint16_t>& s, int alphabet) {
  std::vector<uint64_t> h(static_cast<size_t>(alphabet), 0);
  for (uint16_t x : s) ++h[x];
  return h;
}

// Byte b of a bitmap as eight 0/1 bytes, position 0 (bit 0) first in memory.
constexpr auto kBitsToBytes = [] {
  std::array<uint64_t, 256> t{};
  for (int b = 0; b < 256; ++b)
    for (int i = 0; i < 8; ++i) t[b] |= uint64_t((b >> i) & 1) << (8 * i);
  return t;
}();

}  // namespace

EncodedPositions encode_positions(const std::vector<uint8_t>& mask, int64_t stored,
                                  int64_t window) {
  EncodedPositions best;
  if (stored == static_cast<int64_t>(mask.size())) return best;
  size_t best_size = SIZE_MAX;
  std::vector<uint16_t> best_symbols;
  int best_alphabet = 0;
  auto consider = [&](PositionCoding coding, int g, std::vector<uint16_t> symbols, int alphabet) {
    const std::vector<uint64_t> h = histogram(symbols, alphabet);
    const size_t size = huffman::encoded_block_size(h) + (coding == kBitmap ? 0 : 2);
    if (size >= best_size) return;
    best_size = size;
    best.coding = coding;
    best.gap_limit = static_cast<uint16_t>(g);
    best.entropy_bits = huffman::entropy_bits(h);
    best_symbols = std::move(symbols);
    best_alphabet = alphabet;
  };
  std::vector<uint8_t> kernels;
  const bool whole_kernels = kernel_flags(mask, window, &kernels);
  for (int g = 1; g <= 256; g *= 2) {
    consider(kGapsStored, g, gap_symbols(mask, 1, g), g + 1);
    consider(kGapsPruned, g, gap_symbols(mask, 0, g), g + 1);
    if (whole_kernels) consider(kGapsStoredKernels, g, gap_symbols(kernels, 1, g), g + 1);
  }
  consider(kBitmap, 0, bitmap_symbols(mask), 256);
  best.symbols = static_cast<uint32_t>(best_symbols.size());
  best.block = huffman::encode_block(best_symbols, best_alphabet);
  for (uint16_t b : bitmap_symbols(mask)) best.zstd_input.push_back(static_cast<uint8_t>(b));
  return best;
}

Status decode_positions(PositionCoding coding, uint16_t gap_limit, uint32_t symbols,
                        std::string_view block, int64_t numel, int64_t stored, int64_t window,
                        std::vector<uint8_t>* mask) {
  const bool kernels = coding == kGapsStoredKernels;
  SQZ_RETURN_ERROR_IF(kernels && window < 2, ErrorCode::kCorrupt,
                      "kernel coding on a layer with a 1x1 window");
  const bool gaps = coding == kGapsStored || coding == kGapsPruned || kernels;
  SQZ_RETURN_ERROR_IF(gaps && (gap_limit < 1 || gap_limit > 256), ErrorCode::kCorrupt,
                      "gap limit " + std::to_string(gap_limit) + " is outside 1..256");
  const int alphabet = gaps ? gap_limit + 1 : 256;
  // Every symbol advances at least one position (an escape G >= 1, a gap by gap+1): no
  // valid stream has more symbols than positions.
  SQZ_RETURN_ERROR_IF(gaps ? symbols > numel : symbols != (numel + 7) / 8, ErrorCode::kCorrupt,
                      "position block declares " + std::to_string(symbols) + " symbols");
  std::vector<uint16_t> s(symbols);
  SQZ_RETURN_IF_ERROR(huffman::decode_block(block, alphabet, symbols, s.data()));
  if (coding == kBitmap) {
    mask->resize(static_cast<size_t>(numel));
    uint8_t* m = mask->data();
    int64_t count = 0;
    const int64_t whole = numel / 8;
    for (int64_t b = 0; b < whole; ++b) {  // eight positions per bitmap byte
      const uint64_t bytes = kBitsToBytes[s[static_cast<size_t>(b)]];
      std::memcpy(m + 8 * b, &bytes, 8);
      count += __builtin_popcount(s[static_cast<size_t>(b)]);
    }
    for (int64_t p = 8 * whole; p < numel; ++p) {
      m[p] = (s[static_cast<size_t>(p / 8)] >> (p % 8)) & 1;
      count += m[p];
    }
    SQZ_RETURN_ERROR_IF(numel % 8 && (s.back() >> (numel % 8)) != 0, ErrorCode::kCorrupt,
                        "bitmap padding bits are set");
    SQZ_RETURN_ERROR_IF(
        count != stored, ErrorCode::kCorrupt,
        "bitmap holds " + std::to_string(count) + " positions, expected " + std::to_string(stored));
    return Status::ok();
  }
  const uint8_t listed = coding == kGapsPruned ? 0 : 1;
  const int64_t unit = kernels ? window : 1, units = numel / unit;
  mask->assign(static_cast<size_t>(numel), listed ? 0 : 1);
  int64_t prev = -1, count = 0;
  for (uint16_t x : s) {
    if (x == gap_limit) {
      prev += gap_limit;
      continue;
    }
    prev += x + 1;
    SQZ_RETURN_ERROR_IF(prev >= units, ErrorCode::kCorrupt,
                        "a position lies past the tensor's end");
    std::fill_n(mask->begin() + prev * unit, unit, listed);
    count += unit;
  }
  const int64_t want = listed ? stored : numel - stored;
  SQZ_RETURN_ERROR_IF(count != want, ErrorCode::kCorrupt,
                      "position block lists " + std::to_string(count) + " positions, expected " +
                          std::to_string(want));
  return Status::ok();
}

}  // namespace sqz::format::detail
