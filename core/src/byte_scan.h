// Scans of byte arrays (a mask, a layer's codes: a byte a weight) 8 bytes at a time, as the
// baseline -O2 build leaves byte loops unvectorized. Internal to the core library.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace sqz::detail {

// The OR of n bytes.
inline uint8_t or_of_bytes(const uint8_t* p, size_t n) {
  uint64_t acc = 0;
  size_t i = 0;
  for (uint64_t x; i + 8 <= n; i += 8) std::memcpy(&x, p + i, 8), acc |= x;
  uint8_t out = 0;
  for (int b = 0; b < 8; ++b) out |= static_cast<uint8_t>(acc >> (8 * b));
  for (; i < n; ++i) out |= p[i];
  return out;
}

// The sum of n bytes that are each 0 or 1.
inline int64_t sum_of_bits(const uint8_t* p, size_t n) {
  int64_t sum = 0;
  size_t i = 0;
  // Eight bytes of 0 or 1 times 0x0101...01: their sum in the top byte (at most 8, no carry).
  for (uint64_t x; i + 8 <= n; i += 8)
    std::memcpy(&x, p + i, 8), sum += static_cast<int64_t>((x * 0x0101010101010101ULL) >> 56);
  for (; i < n; ++i) sum += p[i];
  return sum;
}

}  // namespace sqz::detail
