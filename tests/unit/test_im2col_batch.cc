// im2col_same_batch (the training engine's im2col of a whole batch for size-keeping
// convolutions) against im2col_strided image by image, which test_kernels.cc pins to the
// definition.
#include <doctest/doctest.h>

#include <array>
#include <random>
#include <vector>

#include "sqz/kernels/im2col.h"
#include "test_util.h"

using namespace sqz;
using namespace sqz::kernels;

TEST_CASE("im2col of a batch at once equals im2col image by image, bit for bit, in column blocks") {
  std::mt19937 rng(31);
  int compared = 0;
  for (const auto& [h, w] : std::vector<std::array<int64_t, 2>>{
           {1, 1}, {2, 3}, {5, 4}, {6, 6}, {7, 7}, {13, 13}, {3, 9}})
    for (const auto& [kh, kw] : std::vector<std::array<int64_t, 2>>{
             {3, 3}, {1, 1}, {5, 5}, {1, 3}, {3, 1}, {7, 7}, {9, 5}})
      for (int64_t n : {1, 3}) {
        const ConvShape s{2, h, w, 4, h, w, kh, kw, 1, 1, (kh - 1) / 2, (kw - 1) / 2, 1};
        REQUIRE(conv_keeps_size(s));
        const int64_t hw = h * w, rows = s.k_per_group(), wide = n * hw, ld = wide + 3;
        // Channel-major batch: channel c's n planes together.
        const std::vector<float> in = test::random_floats(rng, s.in_c * wide);
        std::vector<float> want(rows * ld, -7.0f);
        for (int64_t b = 0; b < n; ++b)
          im2col_strided(s, in.data() + b * hw, wide, want.data() + b * hw, 0, rows, 0, hw, ld);
        for (const auto& [r0, r1] : std::vector<std::array<int64_t, 2>>{{0, rows}, {1, rows - 1}}) {
          if (r1 <= r0) continue;
          std::vector<float> got(rows * ld, -7.0f);
          im2col_same_batch(s, in.data(), n, got.data(), r0, r1, ld);
          INFO("plane " << h << "x" << w << " kernel " << kh << "x" << kw << " n=" << n
                        << " rows " << r0 << ".." << r1);
          bool same = true;
          for (int64_t r = 0; r < rows; ++r)
            for (int64_t q = 0; q < ld; ++q) {
              const bool written = r >= r0 && r < r1 && q < wide;
              same &= got[r * ld + q] == (written ? want[r * ld + q] : -7.0f);
            }
          CHECK(same);
          ++compared;
          // Column blocks (the runtime's, one image at a time), any start and width.
          for (int64_t block : {int64_t{1}, int64_t{5}, hw + 2}) {
            for (int64_t c0 = 0; c0 < wide; c0 += block) {
              const int64_t ncols = std::min(block, wide - c0), bld = ncols + 2;
              std::vector<float> part(rows * bld, -7.0f);
              im2col_same_batch(s, in.data(), n, part.data(), r0, r1, c0, ncols, bld);
              for (int64_t r = 0; r < rows; ++r)
                for (int64_t q = 0; q < bld; ++q) {
                  const bool written = r >= r0 && r < r1 && q < ncols;
                  same &= part[r * bld + q] == (written ? want[r * ld + c0 + q] : -7.0f);
                }
            }
            INFO("column blocks of " << block);
            CHECK(same);
          }
        }
      }
  CHECK(compared > 80);
}

TEST_CASE("only stride-1 convolutions that keep their input's size take the batch im2col") {
  CHECK(conv_keeps_size({4, 13, 13, 8, 13, 13, 3, 3, 1, 1, 1, 1, 1}));
  CHECK_FALSE(conv_keeps_size({4, 13, 13, 8, 6, 6, 3, 3, 2, 2, 0, 0, 1}));    // stride 2
  CHECK_FALSE(conv_keeps_size({4, 13, 13, 8, 11, 11, 3, 3, 1, 1, 0, 0, 1}));  // no padding
  CHECK_FALSE(conv_keeps_size({4, 13, 13, 8, 13, 13, 3, 3, 1, 1, 1, 1, 2}));  // grouped
  CHECK_FALSE(conv_keeps_size({4, 13, 13, 8, 14, 14, 2, 2, 1, 1, 1, 1, 1}));  // even kernel
}
