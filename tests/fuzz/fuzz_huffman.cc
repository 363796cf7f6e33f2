// libFuzzer target: Huffman block decoding (first two bytes choose alphabet and count).
#include <vector>

#include "sqz/huffman/huffman.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  const int alphabet = 1 + data[0] * 16;  // 1..4081
  const size_t count = size_t{data[1]} * 64 + data[2];
  std::vector<uint16_t> out(count);
  (void)sqz::huffman::decode_block(std::string_view(reinterpret_cast<const char*>(data + 3), size - 3),
                                alphabet, count, out.data());
  return 0;
}
