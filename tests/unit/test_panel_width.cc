// A plane's last column panel, narrower than the tiles: the SpMM and GEMM tiles over part of
// a panel against the full width, bit for bit (kernels/src/x86/*_tile.inc).
#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "random_conv.h"
#include "sqz/kernels/gemm.h"
#include "sqz/kernels/spmm.h"
#include "test_util.h"

using namespace sqz;
using namespace sqz::kernels;

// A panel's last columns run as few vectors as they need (SparseOp: a 13x13 plane's 169
// columns are 64 + 64 + 41): each width must give the full panel's bits in its columns, read
// no B column past them and write no output column past them.
TEST_CASE("SpMM micro-kernels over part of a panel give the full panel's bits there") {
  std::mt19937 rng(41);
  const int64_t rows = 9, depth = 36, kb = 9;
  std::vector<uint32_t> start{0}, kstart{0};
  std::vector<uint16_t> cols, kcols;
  std::vector<float> values, kvalues;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < depth; ++c)
      if (rng() % 3 != 0)
        cols.push_back(static_cast<uint16_t>(c)), values.push_back(0.1f * (rng() % 19) - 0.9f);
    for (int64_t q = 0; q < depth / kb; ++q) {
      if (rng() % 3 == 0) continue;
      kcols.push_back(static_cast<uint16_t>(q * kb));
      for (int t = 0; t < kb; ++t) kvalues.push_back(test::random_floats(rng, 1)[0]);
    }
    start.push_back(static_cast<uint32_t>(cols.size()));
    kstart.push_back(static_cast<uint32_t>(kcols.size()));
  }
  std::vector<float> pvalues;
  const PairedCsr paired = conv_test::pair_rows(start, cols, values, rows, &pvalues);
  const std::vector<float> bias = test::random_floats(rng, rows);
  int compared = 0;
  for (const SpmmKernel* k : runnable_spmm_kernels()) {
    const int nr = k->nr, full = nr / k->vec_floats;
    REQUIRE(full * k->vec_floats == nr);
    const std::vector<float> b = test::random_floats(rng, depth * nr);
    // kind 0: one row at a time; 1: kernel blocks; 2: pairs of rows.
    auto run = [&](int kind, int vecs, const float* src, bool accumulate, float* c) {
      if (kind == 0)
        k->f32(start.data(), cols.data(), values.data(), bias.data(), rows, src, nr, accumulate,
               true, c, nr, vecs);
      else if (kind == 1)
        k->blocks(kstart.data(), kcols.data(), kvalues.data(), kb, bias.data(), rows, src, nr,
                  accumulate, true, c, nr, vecs);
      else
        k->pairs(paired.pair_start.data(), paired.value_start.data(), paired.cols.data(),
                 pvalues.data(), bias.data(), rows, src, nr, accumulate, true, c, nr, vecs);
    };
    const std::vector<float> prior = test::random_floats(rng, rows * nr);
    for (int kind = 0; kind < (k->pairs ? 3 : 2); ++kind) {
      for (bool accumulate : {false, true}) {
        std::vector<float> want = prior;
        run(kind, full, b.data(), accumulate, want.data());
        for (int vecs = 1; vecs <= full; ++vecs) {
          const int width = vecs * k->vec_floats;
          std::vector<float> narrow_b = b;  // columns past the width: NaN, never read
          for (int64_t r = 0; r < depth; ++r)
            std::fill(narrow_b.begin() + r * nr + width, narrow_b.begin() + (r + 1) * nr,
                      std::numeric_limits<float>::quiet_NaN());
          std::vector<float> got = prior;
          run(kind, vecs, narrow_b.data(), accumulate, got.data());
          INFO(k->name << " kind=" << kind << " vecs=" << vecs << " accumulate=" << accumulate);
          for (int64_t r = 0; r < rows; ++r) {
            CHECK(std::memcmp(&got[r * nr], &want[r * nr], sizeof(float) * width) == 0);
            CHECK(std::memcmp(&got[r * nr + width], &prior[r * nr + width],
                              sizeof(float) * (nr - width)) == 0);
          }
          ++compared;
        }
      }
    }
  }
  CHECK(compared >= 2 * 2 * 4);
}

TEST_CASE("GEMM tiles over part of a panel give the full tile's bits in their corner") {
  std::mt19937 rng(43);
  int compared = 0;
  for (const GemmKernel* k : runnable_gemm_kernels()) {
    const int mr = k->mr, nr = k->nr;
    const int64_t depth = 23;
    const std::vector<float> a = test::random_floats(rng, depth * mr);
    const std::vector<float> b = test::random_floats(rng, depth * nr);
    const std::vector<float> bias = test::random_floats(rng, mr);
    const std::vector<float> prior = test::random_floats(rng, mr * nr);
    for (bool from_c : {false, true}) {
      const GemmTileFn tile = from_c ? k->tile_acc : k->tile;
      for (int rows : {1, mr}) {
        for (int cols = 1; cols <= nr; ++cols) {
          // The full tile from the same corner (zero outside it, as the kernel reads it).
          std::vector<float> corner(mr * nr, 0.0f), want(mr * nr), got = prior;
          for (int r = 0; r < rows; ++r)
            std::copy(&prior[r * nr], &prior[r * nr] + cols, &corner[r * nr]);
          want = corner;
          tile(a.data(), b.data(), nr, depth, bias.data(), true, want.data(), nr, mr, nr);
          std::vector<float> narrow_b = b;  // past the widest vector that holds `cols`: NaN
          const int used = std::min(nr, (cols + 15) / 16 * 16);
          for (int64_t r = 0; r < depth; ++r)
            std::fill(narrow_b.begin() + r * nr + used, narrow_b.begin() + (r + 1) * nr,
                      std::numeric_limits<float>::quiet_NaN());
          tile(a.data(), narrow_b.data(), nr, depth, bias.data(), true, got.data(), nr, rows, cols);
          INFO(k->name << " from_c=" << from_c << " rows=" << rows << " cols=" << cols);
          for (int r = 0; r < mr; ++r)
            for (int j = 0; j < nr; ++j) {
              const float expect = r < rows && j < cols ? want[r * nr + j] : prior[r * nr + j];
              CHECK(std::memcmp(&got[r * nr + j], &expect, sizeof(float)) == 0);
            }
          ++compared;
        }
      }
    }
  }
  CHECK(compared >= 4 * 16);
}
