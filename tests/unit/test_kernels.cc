// Differential tests: every optimized kernel against its naive twin.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>

#include "random_conv.h"
#include "sqz/core/graph.h"
#include "sqz/kernels/conv_op.h"
#include "sqz/kernels/denormals.h"
#include "sqz/kernels/im2col.h"
#include "sqz/kernels/pool.h"
#include "sqz/kernels/ref/conv_ref.h"
#include "sqz/kernels/spmm.h"
#include "test_util.h"

using namespace sqz;
using namespace sqz::kernels;
using namespace conv_test;

TEST_CASE("DenormalsAsZero flushes denormal operands and results in its scope, then restores") {
  volatile float tiny = 1e-30f, denormal = 1e-39f;
  const auto product = [&] { return tiny * 1e-10f; };  // 1e-40: a denormal result
  REQUIRE_FALSE(kernels::denormals_are_zero());
  CHECK(product() != 0.0f);
  CHECK(denormal * 1.0f != 0.0f);
  {
    const kernels::DenormalsAsZero outer;
    CHECK(kernels::denormals_are_zero());
    CHECK(product() == 0.0f);        // FTZ: the result
    CHECK(denormal * 1.0f == 0.0f);  // DAZ: the operand
    CHECK(denormal + 1e-38f == 1e-38f);
    {
      const kernels::DenormalsAsZero inner;
      CHECK(product() == 0.0f);
    }
    CHECK(kernels::denormals_are_zero());  // the inner scope restored the outer's mode
  }
  CHECK_FALSE(kernels::denormals_are_zero());
  CHECK(product() != 0.0f);
}

TEST_CASE("every convolution kernel equals the naive reference on random shapes and densities") {
  std::mt19937 rng(7);
  int on_image = 0;  // SpMM ops that also ran building B themselves
  const int geometries[][3] = {{1, 1, 0}, {3, 1, 1}, {7, 2, 0}, {3, 2, 1}, {1, 1, 1}};
  for (double density : {0.0, 0.1, 0.33, 0.5, 0.9, 1.0}) {
    for (const auto& kg : geometries) {
      for (int book_size : {1, 16, 255}) {
        const RandomConv c = random_conv(rng, kg, density, book_size);
        const std::vector<float> want = c.reference();
        const ConvWeights f32 = c.f32_weights(), coded = c.coded_weights();
        auto describe = [&](const std::string& kernel) {
          char buf[256];
          std::snprintf(buf, sizeof buf,
                        "kernel=%s in=%lldx%lldx%lld out_c=%lld k=%lld s=%lld p=%lld g=%lld "
                        "density=%.2f book=%d relu=%d",
                        kernel.c_str(), (long long)c.s.in_c, (long long)c.s.in_h,
                        (long long)c.s.in_w, (long long)c.s.out_c, (long long)c.s.kh,
                        (long long)c.s.sh, (long long)c.s.ph, (long long)c.s.groups, density,
                        book_size, c.relu);
          return std::string(buf);
        };
        for (const GemmKernel* k : runnable_gemm_kernels()) {
          for (const ConvWeights& w : {f32, coded}) {
            auto op = make_dense_conv(c.s, w, c.relu, *k);
            INFO(describe(op->kernel_name()));
            check_op(*op, c, want);
          }
        }
        for (const SpmmKernel* k : runnable_spmm_kernels()) {
          for (const ConvWeights& w : {f32, coded}) {
            auto op = make_sparse_conv(c.s, w, c.relu, *k);
            INFO(describe(op->kernel_name()));
            on_image += check_op(*op, c, want);
          }
        }
      }
    }
  }
  CHECK(on_image >= 12);  // the 3x3 geometry's draws without groups
}

TEST_CASE("a convolution summed with a residual inside its items equals the sum after it") {
  // run_items_adding: every op, column block, row split and range of items gives the bits of
  // run_items followed by the element-wise sum (ConvOp), and each output is summed once. 70
  // channels give the SpMM several row blocks (one per 16 channels; random shapes have fewer).
  std::mt19937 rng(17);
  const int geometries[][3] = {{1, 1, 0}, {3, 1, 1}, {3, 2, 1}};
  for (int64_t out_c : {int64_t{0}, int64_t{70}})
    for (double density : {0.3, 1.0})
      for (const auto& kg : geometries)
        for (bool whole : {false, true}) {
          const RandomConv c = random_conv(rng, kg, density, 16, whole, out_c);
          const std::vector<float> residual =
              test::random_floats(rng, static_cast<size_t>(c.s.out_c * c.s.out_size()));
          std::vector<std::unique_ptr<ConvOp>> ops;
          for (const GemmKernel* k : runnable_gemm_kernels())
            ops.push_back(make_dense_conv(c.s, c.coded_weights(), c.relu, *k));
          for (const SpmmKernel* k : runnable_spmm_kernels())
            for (bool pairs : {true, false})
              ops.push_back(make_sparse_conv(c.s, c.coded_weights(), c.relu, *k, 0, pairs));
          for (const auto& op : ops)
            for (int64_t block : {int64_t{1} << 30, int64_t{37}})
              for (int row_blocks : {1, 2, 3, 7})
                for (int64_t chunk : {int64_t{1}, int64_t{1} << 30}) {
                  INFO(op->kernel_name()
                       << " k " << kg[0] << " density " << density << " block " << block
                       << " row blocks " << row_blocks << " chunk " << chunk);
                  std::vector<float> want = run_op(*op, c, block, row_blocks, chunk);
                  for (size_t i = 0; i < want.size(); ++i) want[i] = residual[i] + want[i];
                  CHECK(run_op(*op, c, block, row_blocks, chunk, residual.data()) == want);
                  if (op->builds_b_from_image())
                    CHECK(run_op(*op, c, block, row_blocks, chunk, residual.data(), true) == want);
                }
        }
}

TEST_CASE("SpMM ops give the same bits under every split of their output channels") {
  // Enough channels per group for several row blocks (an op makes one per 16 channels);
  // odd counts, so that a two-row kernel's blocks must start on even rows to keep its pairs.
  std::mt19937 rng(31);
  const int geometries[][3] = {{3, 1, 1}, {1, 1, 0}};
  int split = 0, paired = 0;
  for (int64_t out_c : {37, 64, 101}) {
    for (const auto& kg : geometries) {
      const RandomConv c = random_conv(rng, kg, 0.33, 16, false, out_c);
      const std::vector<float> want = c.reference();
      for (const SpmmKernel* k : runnable_spmm_kernels()) {
        for (const ConvWeights& w : {c.f32_weights(), c.coded_weights()}) {
          auto op = make_sparse_conv(c.s, w, c.relu, *k);
          INFO(op->kernel_name() << " out_c=" << c.s.out_c << " groups=" << c.s.groups);
          CHECK(op->max_row_blocks() >= 2);
          split += op->max_row_blocks() >= 2;
          paired += op->kernel_name().find(" pairs") != std::string::npos;
          CHECK((k->pairs != nullptr) == (op->kernel_name().find(" pairs") != std::string::npos));
          check_op(*op, c, want);
          for (int row_blocks : {4, 5, 6})
            CHECK(run_op(*op, c, 64, row_blocks) == run_op(*op, c, int64_t{1} << 30, 1));
        }
      }
    }
  }
  CHECK(split > 0);
  bool any_pairs = false;
  for (const SpmmKernel* k : runnable_spmm_kernels()) any_pairs |= k->pairs != nullptr;
  CHECK((paired > 0) == any_pairs);
}

TEST_CASE("GEMM ops give the same bits for any K block") {
  std::mt19937 rng(41);
  const int geometries[][3] = {{3, 1, 1}, {1, 1, 0}, {7, 2, 0}};
  int blocked = 0;
  for (const auto& kg : geometries) {
    const RandomConv c = random_conv(rng, kg, 0.9, 16);
    for (const GemmKernel* k : runnable_gemm_kernels()) {
      for (const ConvWeights& w : {c.f32_weights(), c.coded_weights()}) {
        const std::vector<float> whole = run_op(*make_dense_conv(c.s, w, c.relu, *k), c, 64, 1);
        for (int64_t kc : {1, 5, 16, 64}) {
          auto op = make_dense_conv(c.s, w, c.relu, *k, kc);
          INFO(op->kernel_name() << " K=" << c.s.k_per_group() << " kc=" << kc);
          blocked += op->kernel_name().find(" kc=") != std::string::npos;
          CHECK((op->kernel_name().find(" kc=") != std::string::npos) == (kc < c.s.k_per_group()));
          CHECK(run_op(*op, c, 64, 1) == whole);
          CHECK(run_op(*op, c, 37, 3, 2) == whole);
        }
      }
    }
  }
  CHECK(blocked > 0);
}

// Runs a direct op over one image, its items in ranges of `chunk` in a scrambled order, the
// input arranged in two channel ranges.
std::vector<float> run_direct_op(const ConvOp& op, const RandomConv& c, int64_t chunk) {
  std::vector<float> got(c.s.out_c * c.s.out_size(), -7.0f);
  std::vector<float> shared(op.shared_floats()), arranged(op.arranged_floats(), -9.0f);
  op.prepare(shared.data(), 0, static_cast<int64_t>(shared.size()));
  op.arrange_input(c.in.data(), arranged.data(), c.s.in_c / 2, c.s.in_c);
  op.arrange_input(c.in.data(), arranged.data(), 0, c.s.in_c / 2);
  const int64_t items = op.direct_items();
  for (int64_t i = (items - 1) / chunk * chunk; i >= 0; i -= chunk)
    op.run_direct(arranged.data(), got.data(), i, std::min(items, i + chunk), shared.data());
  return got;
}

TEST_CASE("direct convolution ops equal the reference and the GEMM op's bits") {
  // Strides 1 to 3 (also past the window), paddings, kernel sizes, channel counts that leave
  // partial panels of output channels and of output columns; float32 and codes.
  std::mt19937 rng(43);
  const int geometries[][3] = {{7, 2, 0}, {3, 2, 0}, {3, 2, 1}, {3, 1, 1}, {5, 3, 2},
                               {1, 1, 0}, {2, 2, 1}, {1, 2, 0}, {2, 3, 1}};
  int compared = 0;
  for (const auto& kg : geometries)
    for (double density : {1.0, 0.4}) {
      RandomConv c = random_conv(rng, kg, density, 16);
      if (c.s.groups != 1) {  // grouped: no direct op
        for (const GemmKernel* k : runnable_gemm_kernels())
          CHECK(make_direct_conv(c.s, c.f32_weights(), c.relu, *k) == nullptr);
        continue;
      }
      const std::vector<float> want = c.reference();
      for (const GemmKernel* k : runnable_gemm_kernels())
        for (const ConvWeights& w : {c.f32_weights(), c.coded_weights()}) {
          auto op = make_direct_conv(c.s, w, c.relu, *k);
          REQUIRE(op != nullptr);
          INFO(op->kernel_name() << " in=" << c.s.in_c << "x" << c.s.in_h << "x" << c.s.in_w
                                 << " out_c=" << c.s.out_c << " k=" << c.s.kh << " s=" << c.s.sh
                                 << " p=" << c.s.ph);
          CHECK(op->kernel_name().rfind("direct_", 0) == 0);
          const std::vector<float> got = run_direct_op(*op, c, 1);
          CHECK(test::max_rel_diff(got, want) <= 1e-5);
          const std::vector<float> gemm = run_op(*make_dense_conv(c.s, w, c.relu, *k), c, 64, 1);
          CHECK(std::memcmp(got.data(), gemm.data(), sizeof(float) * got.size()) == 0);
          CHECK(run_direct_op(*op, c, 5) == got);
          ++compared;
        }
    }
  CHECK(compared >= 8);
}

TEST_CASE("whole-kernel sparsity runs kernel blocks and equals the reference") {
  std::mt19937 rng(23);
  const int geometries[][3] = {{3, 1, 1}, {7, 2, 0}, {3, 2, 1}, {2, 1, 0}, {5, 1, 2}};
  int blocked = 0, on_image = 0;
  for (double density : {0.1, 0.33, 0.6}) {
    for (const auto& kg : geometries) {
      const RandomConv c = random_conv(rng, kg, density, 16, /*whole_kernels=*/true);
      const std::vector<float> want = c.reference();
      const ConvWeights f32 = c.f32_weights(), coded = c.coded_weights();
      for (const SpmmKernel* k : runnable_spmm_kernels()) {
        for (const ConvWeights& w : {f32, coded}) {
          auto op = make_sparse_conv(c.s, w, c.relu, *k);
          INFO(op->kernel_name() << " k=" << c.s.kh << " s=" << c.s.sh << " density=" << density);
          CHECK(op->kernel_name().find(" kernels") != std::string::npos);
          blocked += op->kernel_name().find(" kernels") != std::string::npos;
          on_image += check_op(*op, c, want);
        }
      }
    }
  }
  CHECK(blocked > 0);
  CHECK(on_image > 0);  // kernel blocks over B built from the image
  // Per-weight sparsity keeps the per-weight CSR.
  const int k3[3] = {3, 1, 1};
  const RandomConv c = random_conv(rng, k3, 0.33, 16);
  CHECK(make_sparse_conv(c.s, c.f32_weights(), c.relu, best_spmm_kernel())
            ->kernel_name()
            .find(" kernels") == std::string::npos);
}

TEST_CASE("im2col equals its definition: whole images, column blocks, row ranges, plane strides") {
  std::mt19937 rng(13);
  int compared = 0;
  for (int64_t size : {1, 2, 3, 7, 14, 28})
    for (const auto& [kh, kw, sh, ph, pw] : std::vector<std::array<int64_t, 5>>{{3, 3, 1, 1, 1},
                                                                                {5, 5, 1, 2, 2},
                                                                                {1, 3, 1, 0, 1},
                                                                                {3, 1, 1, 1, 0},
                                                                                {1, 1, 1, 0, 0},
                                                                                {3, 3, 1, 0, 0},
                                                                                {3, 3, 2, 1, 1},
                                                                                {3, 3, 1, 2, 1}}) {
      ConvShape s{2, size, size, 1, 0, 0, kh, kw, sh, sh, ph, pw, 1};
      s.out_h = (size + 2 * ph - kh) / sh + 1;
      s.out_w = (size + 2 * pw - kw) / sh + 1;
      if (s.out_h < 1 || s.out_w < 1) continue;
      const std::vector<float> in = test::random_floats(rng, s.in_c * size * size);
      // The same planes further apart (a batch's layout: channel c of every image together).
      const int64_t stride = size * size + 5;
      std::vector<float> spread(s.in_c * stride, 99.0f);
      for (int64_t c = 0; c < s.in_c; ++c)
        std::copy_n(in.data() + c * size * size, size * size, spread.data() + c * stride);
      const int64_t n = s.out_size(), rows = s.k_per_group();
      std::vector<float> want(rows * n);
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t q = 0; q < n; ++q) {
          const int64_t c = r / (kh * kw), i = r % (kh * kw) / kw, j = r % kw;
          const int64_t y = q / s.out_w * sh - ph + i, x = q % s.out_w * sh - pw + j;
          const bool inside = y >= 0 && y < size && x >= 0 && x < size;
          want[r * n + q] = inside ? in[(c * size + y) * size + x] : 0.0f;
        }
      for (int64_t block : {n, int64_t{5}})
        for (const auto& [r0, r1] : std::vector<std::array<int64_t, 2>>{{0, rows}, {1, rows - 1}}) {
          if (r1 <= r0) continue;
          for (int64_t c0 = 0; c0 < n; c0 += block) {
            const int64_t ncols = std::min(block, n - c0), ld = ncols + 3;
            std::vector<float> got(rows * ld, -7.0f);
            im2col(s, in.data(), got.data(), r0, r1, c0, ncols, ld);
            INFO("k=" << kh << "x" << kw << " s=" << sh << " p=" << ph << "x" << pw
                      << " in=" << size << " block=" << block << " rows " << r0 << ".." << r1);
            bool same = true;
            for (int64_t r = 0; r < rows; ++r)
              for (int64_t q = 0; q < ld; ++q) {
                const bool written = r >= r0 && r < r1 && q < ncols;
                same &= got[r * ld + q] == (written ? want[r * n + c0 + q] : -7.0f);
              }
            CHECK(same);
            std::vector<float> apart(rows * ld, -7.0f);
            im2col_strided(s, spread.data(), stride, apart.data(), r0, r1, c0, ncols, ld);
            CHECK(apart == got);
            ++compared;
          }
        }
    }
  CHECK(compared > 200);
}

TEST_CASE("im2col from padded planes equals im2col, for any geometry, block and row range") {
  std::mt19937 rng(11);
  const int geometries[][3] = {{1, 1, 0}, {3, 1, 1}, {7, 2, 0}, {3, 2, 1},
                               {1, 1, 1}, {2, 3, 2}, {5, 1, 2}, {3, 3, 0}};
  int compared = 0;
  for (const auto& kg : geometries) {
    for (int trial = 0; trial < 4; ++trial) {
      const RandomConv c = random_conv(rng, kg, 0.5, 4);
      const ConvShape& s = c.s;
      REQUIRE(windows_inside_padding(s));
      const int64_t n = s.out_size(), rows = s.groups * s.k_per_group();
      std::vector<float> padded(s.in_c * padded_plane(s), -9.0f);
      pad_planes(s, c.in.data(), padded.data(), 0, s.in_c / 2);  // two calls: any split
      pad_planes(s, c.in.data(), padded.data(), s.in_c / 2, s.in_c);
      for (int64_t block : {int64_t{1} << 30, int64_t{37}, int64_t{64}}) {
        for (int64_t c0 = 0; c0 < n; c0 += block) {
          const int64_t ncols = std::min(block, n - c0), ld = aligned_stride(ncols);
          const int64_t r0 = rows / 3, r1 = rows - rows / 4;
          std::vector<float> want(rows * ld, -7.0f), got(rows * ld, -7.0f);
          im2col(s, c.in.data(), want.data(), r0, r1, c0, ncols, ld);
          im2col_padded(s, padded.data(), got.data(), r0, r1, c0, ncols, ld);
          INFO("k=" << s.kh << " s=" << s.sh << " p=" << s.ph << " in=" << s.in_h << "x" << s.in_w
                    << " c0=" << c0 << " ncols=" << ncols);
          CHECK(got == want);
          ++compared;
        }
      }
    }
  }
  CHECK(compared > 100);
}

TEST_CASE("kernel-block SpMM micro-kernels equal their naive twin and the per-weight form") {
  std::mt19937 rng(29);
  for (const SpmmKernel* k : runnable_spmm_kernels()) {
    for (int kb : {1, 2, 9, 49}) {
      const int64_t rows = 11, kernels = 7, depth = kernels * kb, nr = k->nr;
      std::vector<float> b = test::random_floats(rng, depth * nr);
      std::vector<float> bias = test::random_floats(rng, rows), values;
      std::vector<uint32_t> start{0}, start1{0};
      std::vector<uint16_t> cols, cols1;
      for (int64_t r = 0; r < rows; ++r) {
        for (int64_t q = 0; q < kernels; ++q) {
          if (rng() % 3 == 0) continue;
          cols.push_back(static_cast<uint16_t>(q * kb));
          for (int t = 0; t < kb; ++t) {
            values.push_back(test::random_floats(rng, 1)[0]);
            cols1.push_back(static_cast<uint16_t>(q * kb + t));
          }
        }
        start.push_back(static_cast<uint32_t>(cols.size()));
        start1.push_back(static_cast<uint32_t>(cols1.size()));
      }
      std::vector<float> want(rows * nr), per_weight(rows * nr), got(rows * nr);
      ref::spmm_blocks(start.data(), cols.data(), values.data(), kb, bias.data(), rows, b.data(),
                       nr, static_cast<int>(nr), true, want.data(), nr);
      ref::spmm(start1.data(), cols1.data(), values.data(), bias.data(), rows, b.data(), nr,
                static_cast<int>(nr), true, per_weight.data(), nr);
      k->blocks(start.data(), cols.data(), values.data(), kb, bias.data(), rows, b.data(), nr,
                false, true, got.data(), nr, k->nr / k->vec_floats);
      INFO(k->name << " kb=" << kb);
      CHECK(per_weight == want);
      CHECK(test::max_rel_diff(got, want) <= 1e-5);
    }
  }
}

TEST_CASE("SpMM micro-kernels equal their naive twin") {
  std::mt19937 rng(17);
  for (const SpmmKernel* k : runnable_spmm_kernels()) {
    const int64_t rows = 13, depth = 40, nr = k->nr;
    std::vector<float> b = test::random_floats(rng, depth * nr), book = test::random_floats(rng, 8);
    std::vector<float> bias = test::random_floats(rng, rows);
    std::vector<uint32_t> start{0};
    std::vector<uint16_t> cols;
    std::vector<float> values;
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = 0; c < depth; c += 1 + static_cast<int64_t>(rng() % 4)) {
        cols.push_back(static_cast<uint16_t>(c));
        values.push_back(book[rng() % 8]);
      }
      start.push_back(static_cast<uint32_t>(cols.size()));
    }
    std::vector<float> want(rows * nr), got(rows * nr);
    ref::spmm(start.data(), cols.data(), values.data(), bias.data(), rows, b.data(), nr,
              static_cast<int>(nr), true, want.data(), nr);
    k->f32(start.data(), cols.data(), values.data(), bias.data(), rows, b.data(), nr, false, true,
           got.data(), nr, k->nr / k->vec_floats);
    INFO(k->name);
    CHECK(test::max_rel_diff(got, want) <= 1e-5);
  }
}

TEST_CASE("two-row SpMM micro-kernels equal their naive twin and the one-row form") {
  std::mt19937 rng(37);
  for (const SpmmKernel* k : runnable_spmm_kernels()) {
    if (!k->pairs) continue;
    for (int64_t rows : {1, 2, 13, 14}) {
      for (double density : {0.0, 0.2, 0.6, 1.0}) {
        const int64_t depth = 40, nr = k->nr;
        std::vector<float> b = test::random_floats(rng, depth * nr);
        std::vector<float> bias = test::random_floats(rng, rows), values;
        std::vector<uint32_t> start{0};
        std::vector<uint16_t> cols;
        std::uniform_real_distribution<double> u(0, 1);
        for (int64_t r = 0; r < rows; ++r) {
          for (int64_t c = 0; c < depth; ++c) {
            if (u(rng) >= density) continue;
            cols.push_back(static_cast<uint16_t>(c));
            values.push_back(test::random_floats(rng, 1)[0]);
          }
          start.push_back(static_cast<uint32_t>(cols.size()));
        }
        std::vector<float> pvalues;
        const PairedCsr paired = pair_rows(start, cols, values, rows, &pvalues);
        std::vector<uint32_t> sorted = paired.source;  // every entry's value once
        std::sort(sorted.begin(), sorted.end());
        for (size_t i = 0; i < sorted.size(); ++i) REQUIRE(sorted[i] == i);
        CHECK(sorted.size() == values.size());
        INFO(k->name << " rows=" << rows << " density=" << density);
        for (bool relu : {false, true}) {
          std::vector<float> one_row(rows * nr), want(rows * nr), got(rows * nr);
          ref::spmm(start.data(), cols.data(), values.data(), bias.data(), rows, b.data(), nr,
                    static_cast<int>(nr), relu, one_row.data(), nr);
          ref::spmm_pairs(paired.pair_start.data(), paired.value_start.data(), paired.cols.data(),
                          pvalues.data(), bias.data(), rows, b.data(), nr, static_cast<int>(nr),
                          relu, want.data(), nr);
          k->pairs(paired.pair_start.data(), paired.value_start.data(), paired.cols.data(),
                   pvalues.data(), bias.data(), rows, b.data(), nr, false, relu, got.data(), nr,
                   k->nr / k->vec_floats);
          CHECK(test::max_rel_diff(want, one_row) <= 1e-6);
          CHECK(test::max_rel_diff(got, want) <= 1e-5);
        }
        // Accumulating onto earlier partial sums (a later K chunk), no bias.
        const std::vector<float> zero(rows, 0.0f), prior = test::random_floats(rng, rows * nr);
        std::vector<float> want(rows * nr), got = prior;
        ref::spmm(start.data(), cols.data(), values.data(), zero.data(), rows, b.data(), nr,
                  static_cast<int>(nr), false, want.data(), nr);
        for (size_t i = 0; i < want.size(); ++i) want[i] += prior[i];
        k->pairs(paired.pair_start.data(), paired.value_start.data(), paired.cols.data(),
                 pvalues.data(), bias.data(), rows, b.data(), nr, true, false, got.data(), nr,
                 k->nr / k->vec_floats);
        CHECK(test::max_rel_diff(got, want) <= 1e-5);
      }
    }
  }
}
