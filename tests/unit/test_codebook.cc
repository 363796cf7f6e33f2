// Codebook decoding (kernels/codebook.h): every ISA path against the naive twin, bit for bit.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "sqz/kernels/codebook.h"

using namespace sqz::kernels;

TEST_CASE("codebook decoding gives the naive twin's bits on every path, at every length") {
  std::mt19937 rng(3);
  for (int entries : {1, 2, 17, 255, 256}) {
    std::vector<float> book(static_cast<size_t>(entries));
    for (auto& v : book) v = std::uniform_real_distribution<float>(-2, 2)(rng);
    // Values whose bits a float copy could change: NaN payloads, signed zeros, subnormals.
    const float specials[] = {std::numeric_limits<float>::quiet_NaN(), -0.0f,
                              std::numeric_limits<float>::denorm_min(),
                              -std::numeric_limits<float>::infinity()};
    for (size_t k = 0; k < 4 && k < book.size(); ++k) book[book.size() - 1 - k] = specials[k];
    for (int64_t n : {0, 1, 2, 7, 8, 15, 16, 17, 31, 33, 100, 1029}) {
      std::vector<uint8_t> codes(static_cast<size_t>(n) + 32);
      for (auto& c : codes) c = static_cast<uint8_t>(rng() % static_cast<unsigned>(entries));
      std::vector<float> want(static_cast<size_t>(n) + 32, 7.0f);
      // From an odd offset, so that no path can count on aligned codes or outputs.
      ref::decode_codes(codes.data() + 1, n, book.data(), want.data() + 1);
      for (Isa isa : {Isa::kGeneric, Isa::kAvx2, Isa::kAvx512}) {
        INFO("entries " << entries << " n " << n << " isa " << isa_name(isa));
        std::vector<float> got(want.size(), 7.0f);
        decode_codes(codes.data() + 1, n, book.data(), got.data() + 1, isa);
        CHECK(std::memcmp(got.data(), want.data(), got.size() * sizeof(float)) == 0);
      }
      std::vector<float> got(want.size(), 7.0f);
      decode_codes(codes.data() + 1, n, book.data(), got.data() + 1);
      CHECK(std::memcmp(got.data(), want.data(), got.size() * sizeof(float)) == 0);
    }
  }
}
