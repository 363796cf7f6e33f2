#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "sqz/huffman/huffman.h"

using namespace sqz;
using namespace sqz::huffman;

namespace {

std::vector<uint16_t> round_trip(const std::vector<uint16_t>& in, int alphabet) {
  const std::string block = encode_block(in, alphabet);
  std::vector<uint16_t> out(in.size(), 0xFFFF);
  Status s = decode_block(block, alphabet, in.size(), out.data());
  REQUIRE_MESSAGE(s.is_ok(), s.message());
  return out;
}

double kraft(const std::vector<uint8_t>& lengths) {
  double k = 0;
  for (uint8_t l : lengths)
    if (l) k += std::ldexp(1.0, -l);
  return k;
}

}  // namespace

TEST_CASE("decode(encode(x)) == x for random, skewed, single-symbol and 256-symbol inputs") {
  std::mt19937 rng(1);
  for (size_t n : {0u, 1u, 2u, 7u, 100u, 4095u, 4096u, 4097u, 100003u}) {
    std::uniform_int_distribution<int> uni(0, 255);
    std::geometric_distribution<int> geo(0.3);
    std::vector<uint16_t> uniform(n), skewed(n), single(n, 42), two(n);
    for (size_t i = 0; i < n; ++i) {
      uniform[i] = static_cast<uint16_t>(uni(rng));
      skewed[i] = static_cast<uint16_t>(std::min(geo(rng), 255));
      two[i] = static_cast<uint16_t>(i % 3 == 0 ? 5 : 9);
    }
    INFO("n=" << n);
    CHECK(round_trip(uniform, 256) == uniform);
    CHECK(round_trip(skewed, 256) == skewed);
    CHECK(round_trip(single, 256) == single);
    CHECK(round_trip(two, 16) == two);
  }
  std::vector<uint16_t> all(256);
  for (int s = 0; s < 256; ++s) all[s] = static_cast<uint16_t>(s);
  CHECK(round_trip(all, 256) == all);
  std::vector<uint16_t> wide(5000);
  for (size_t i = 0; i < wide.size(); ++i) wide[i] = static_cast<uint16_t>((i * 7919) % 4096);
  CHECK(round_trip(wide, 4096) == wide);
}

TEST_CASE("code lengths: Kraft sum 1, the limit holds, optimal without a limit") {
  // Fibonacci frequencies force a depth-n tree without a limit.
  std::vector<uint64_t> fib{1, 1};
  while (fib.size() < 30) fib.push_back(fib[fib.size() - 1] + fib[fib.size() - 2]);
  for (int limit : {5, 8, 12, 15}) {
    std::vector<uint8_t> l = code_lengths(fib, limit);
    CHECK(kraft(l) == 1.0);
    CHECK(*std::max_element(l.begin(), l.end()) <= limit);
  }
  std::mt19937 rng(2);
  std::uniform_int_distribution<uint64_t> count(0, 1000);
  for (int trial = 0; trial < 50; ++trial) {
    std::vector<uint64_t> hist(2 + trial * 5);
    for (uint64_t& h : hist) h = count(rng) < 300 ? 0 : count(rng);
    hist[0] = 1;
    hist.back() = 1;
    std::vector<uint8_t> l = code_lengths(hist, kMaxCodeLength);
    CHECK(kraft(l) == 1.0);
    // Within one bit per symbol of the entropy (a Huffman code's bound).
    uint64_t total = 0;
    for (uint64_t h : hist) total += h;
    CHECK(payload_bits(hist, l) >= entropy_bits(hist) - 1e-6);
    CHECK(payload_bits(hist, l) <= entropy_bits(hist) + total);
    // The size estimate matches what encoding produces.
    std::vector<uint16_t> symbols;
    for (size_t s = 0; s < hist.size(); ++s)
      symbols.insert(symbols.end(), hist[s], static_cast<uint16_t>(s));
    std::shuffle(symbols.begin(), symbols.end(), rng);
    CHECK(encode_block(symbols, static_cast<int>(hist.size())).size() <= encoded_block_size(hist));
  }
}

TEST_CASE("every truncation and most corruptions are errors, never out-of-bounds reads") {
  std::mt19937 rng(3);
  std::geometric_distribution<int> geo(0.2);
  std::vector<uint16_t> in(5000);
  for (uint16_t& s : in) s = static_cast<uint16_t>(std::min(geo(rng), 63));
  const std::string block = encode_block(in, 64);
  std::vector<uint16_t> out(in.size());
  for (size_t cut = 0; cut < block.size(); ++cut)
    CHECK_FALSE(
        decode_block(std::string_view(block).substr(0, cut), 64, in.size(), out.data()).is_ok());
  CHECK_FALSE(decode_block(block + "x", 64, in.size(), out.data()).is_ok());
  CHECK_FALSE(
      decode_block(block, 8, in.size(), out.data()).is_ok());  // symbols outside the alphabet
  int detected = 0, total = 0;
  for (size_t i = 0; i < block.size(); i += 7) {
    std::string bad = block;
    bad[i] = static_cast<char>(bad[i] ^ (1 << (i % 8)));
    Status s = decode_block(bad, 64, in.size(), out.data());  // must not crash (ASan in CI)
    detected += !s.is_ok() || out != in;
    ++total;
  }
  CHECK(detected == total);  // a flip either fails or decodes to different symbols
}
