// im2col_same_panel (a size-keeping im2col built panel by panel, chunk by chunk, by the SpMM
// op in its L1) against im2col, which test_kernels.cc pins to the definition; and the SpMM ops
// that build B so against the same ops over im2col.
#include <doctest/doctest.h>

#include <array>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "random_conv.h"
#include "sqz/kernels/im2col.h"
#include "sqz/kernels/machine.h"
#include "test_util.h"

using namespace sqz;
using namespace sqz::kernels;

namespace {

uint32_t bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

}  // namespace

TEST_CASE("a panel of im2col built from masked rows equals im2col, bit for bit, +0 past it") {
  std::mt19937 rng(43);
  int compared = 0, edge_rows = 0;
  for (const auto& [h, w] :
       std::vector<std::array<int64_t, 2>>{{1, 1}, {2, 3}, {5, 4}, {13, 13}, {3, 40}, {9, 17}})
    for (const auto& [kh, kw] :
         std::vector<std::array<int64_t, 2>>{{3, 3}, {5, 5}, {1, 3}, {3, 1}, {7, 5}})
      for (int64_t width : {int64_t{16}, int64_t{64}, kMaxPanelWidth}) {
        const ConvShape s{3, h, w, 4, h, w, kh, kw, 1, 1, (kh - 1) / 2, (kw - 1) / 2, 1};
        REQUIRE(conv_keeps_size(s));
        const int64_t n = h * w, rows = s.k_per_group();
        // The image alone in its buffer (a read past its planes is one past the allocation, for
        // the sanitizers), its floats any bits, NaN and infinities among them: the masks must
        // drop what a shifted row reads of a neighbouring row or plane, whatever it holds.
        std::vector<float> in = test::random_floats(rng, s.in_c * n);
        for (size_t i = 0; i < in.size(); i += 7) in[i] = std::numeric_limits<float>::quiet_NaN();
        for (size_t i = 3; i < in.size(); i += 11) in[i] = -std::numeric_limits<float>::infinity();
        std::vector<float> want(rows * n);
        im2col(s, in.data(), want.data(), 0, rows, 0, n, n);
        std::vector<uint32_t> masks(kh * kw * width);
        for (int64_t col0 = 0; col0 < n; col0 += width) {
          const int64_t cols = std::min(width, n - col0);
          same_panel_masks(s, col0, cols, width, masks.data());
          for (const auto& [r0, r1] :
               std::vector<std::array<int64_t, 2>>{{0, rows}, {1, rows - 1}, {rows / 2, rows}}) {
            if (r1 <= r0) continue;
            const int64_t ld = width + 16;
            std::vector<float> got((r1 - r0) * ld, -7.0f);
            im2col_same_panel(s, in.data(), col0, width, masks.data(), r0, r1, got.data(), ld);
            INFO(h << "x" << w << " k " << kh << "x" << kw << " width " << width << " col0 " << col0
                   << " rows " << r0 << ".." << r1);
            bool same = true;
            for (int64_t r = r0; r < r1; ++r) {
              const int64_t shift = (r % (kh * kw) / kw - s.ph) * w + (r % kw - s.pw);
              const int64_t at = r / (kh * kw) * n + col0 + shift;
              edge_rows += at < 0 || at + width > s.in_c * n;
              for (int64_t x = 0; x < ld; ++x) {
                const float g = got[(r - r0) * ld + x];
                if (x >= width)
                  same &= g == -7.0f;  // nothing past the panel's width
                else if (x >= cols)
                  same &= bits(g) == 0u;  // +0 past its columns
                else
                  same &= bits(g) == bits(want[r * n + col0 + x]);
              }
            }
            CHECK(same);
            ++compared;
          }
        }
      }
  CHECK(compared > 300);
  CHECK(edge_rows > 100);  // rows reaching before the first plane or past the last
}

TEST_CASE("an SpMM op building B from the image equals it over im2col, for any K chunk") {
  // Chunks of 1 and 4 KiB cut K into many chunks of a panel (each built in turn); per weight,
  // in pairs and one row at a time, and whole kernels; float32 weights and codes.
  std::mt19937 rng(47);
  const int k3[3] = {3, 1, 1}, k5[3] = {5, 1, 2};
  int compared = 0;
  for (const auto* kg : {&k3, &k5})
    for (bool whole : {false, true})
      for (int trial = 0; trial < 3; ++trial) {
        conv_test::RandomConv c = conv_test::random_conv(rng, *kg, 0.4, 16, whole, 37);
        if (c.s.groups != 1) continue;
        for (const SpmmKernel* k : runnable_spmm_kernels())
          for (int64_t chunk_bytes : {int64_t{1024}, int64_t{4096}, int64_t{0}})
            for (bool pairs : {true, false})
              for (const ConvWeights& w : {c.f32_weights(), c.coded_weights()}) {
                auto op = make_sparse_conv(c.s, w, c.relu, *k, chunk_bytes, pairs);
                REQUIRE(op->builds_b_from_image());
                INFO(op->kernel_name() << " k " << c.s.kh << " in " << c.s.in_c << "x" << c.s.in_h
                                       << "x" << c.s.in_w << " chunk " << chunk_bytes);
                for (int64_t block : {int64_t{1} << 30, int64_t{64}, int64_t{37}})
                  for (int row_blocks : {1, 3})
                    CHECK(conv_test::run_op(*op, c, block, row_blocks, 1, nullptr, true) ==
                          conv_test::run_op(*op, c, block, row_blocks));
                ++compared;
              }
      }
  CHECK(compared >= 24);
}

TEST_CASE("only ungrouped size-keeping SpMM ops of more than one tap build B from the image") {
  std::mt19937 rng(53);
  const int same3[3] = {3, 1, 1}, strided[3] = {3, 2, 1}, one[3] = {1, 1, 0}, valid[3] = {3, 1, 0};
  for (const auto* kg : {&same3, &strided, &one, &valid})
    for (int trial = 0; trial < 4; ++trial) {
      const conv_test::RandomConv c = conv_test::random_conv(rng, *kg, 0.4, 16);
      const bool can = kg == &same3 && c.s.groups == 1;
      for (const SpmmKernel* k : runnable_spmm_kernels())
        CHECK(make_sparse_conv(c.s, c.coded_weights(), c.relu, *k)->builds_b_from_image() == can);
      for (const GemmKernel* k : runnable_gemm_kernels())
        CHECK_FALSE(make_dense_conv(c.s, c.coded_weights(), c.relu, *k)->builds_b_from_image());
    }
}

TEST_CASE("im2col blocks: whole panels within the floats asked, one at least, the plane at most") {
  const ConvShape s{32, 55, 55, 128, 55, 55, 3, 3, 1, 1, 1, 1, 1};  // 288 rows of 3025 columns
  CHECK(im2col_block_columns(s, 288 * 448) == 448);
  CHECK(im2col_block_columns(s, 288 * 448 + 287) == 448);
  CHECK(im2col_block_columns(s, 288 * 447) == 384);          // whole panels only
  CHECK(im2col_block_columns(s, 1) == 64);                   // never less than a panel
  CHECK(im2col_block_columns(s, int64_t{1} << 30) == 3025);  // never more than the plane
  const int64_t by_l2 = im2col_block_columns(s);
  CHECK(by_l2 == im2col_block_columns(s, l2_per_thread(machine()) / 16));
  CHECK((by_l2 % 64 == 0 || by_l2 == 3025));
}
