// Differential tests: every optimized kernel against its naive twin.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>

#include "sqz/kernels/conv_op.h"
#include "sqz/kernels/im2col.h"
#include "sqz/kernels/pool.h"
#include "sqz/kernels/ref/conv_ref.h"
#include "sqz/kernels/spmm.h"
#include "sqz/core/graph.h"
#include "test_util.h"

using namespace sqz;
using namespace sqz::kernels;

namespace {

struct RandomConv {
  ConvShape s{};
  std::vector<float> in, w, bias;
  std::vector<uint8_t> mask, codes;
  std::vector<float> book;
  bool relu = false;

  // The naive reference's output.
  std::vector<float> reference() const {
    std::vector<float> out(s.out_c * s.out_size());
    ref::conv2d_f32(s, in.data(), w.data(), bias.data(), relu, out.data());
    return out;
  }
  // The weights as float32 values, or as codes into the codebook.
  ConvWeights f32_weights() const {
    return {w.data(), mask.data(), nullptr, nullptr, 0, bias.data()};
  }
  ConvWeights coded_weights() const {
    ConvWeights coded = f32_weights();
    coded.codes = codes.data();
    coded.codebook = book.data();
    coded.codebook_size = static_cast<int>(book.size());
    return coded;
  }
};

// A random convolution at `density`, its weights shared through a codebook of `book_size`;
// with whole_kernels, each kh x kw kernel is kept or dropped whole (kernel granularity).
RandomConv random_conv(std::mt19937& rng, const int (&kg)[3], double density, int book_size,
                       bool whole_kernels = false, int64_t out_c_per_group = 0) {
  std::uniform_int_distribution<int> dim(1, 21);
  RandomConv c;
  const int64_t groups = (dim(rng) % 3 == 0) ? 2 : 1;
  ConvShape& s = c.s;
  s.in_c = dim(rng) * groups;
  s.out_c = (out_c_per_group ? out_c_per_group : dim(rng)) * groups;  // tile edges
  s.kh = s.kw = kg[0];
  s.sh = s.sw = kg[1];
  s.ph = s.pw = kg[2];
  s.in_h = kg[0] + dim(rng);
  s.in_w = kg[0] + dim(rng) + 40;  // more than one column panel, and a partial last one
  s.groups = groups;
  s.out_h = (s.in_h + 2 * s.ph - s.kh) / s.sh + 1;
  s.out_w = (s.in_w + 2 * s.pw - s.kw) / s.sw + 1;
  c.in = test::random_floats(rng, s.in_c * s.in_h * s.in_w);
  c.book = test::random_floats(rng, book_size);
  std::sort(c.book.begin(), c.book.end());
  std::uniform_real_distribution<double> u(0, 1);
  std::uniform_int_distribution<int> code(0, book_size - 1);
  c.w.assign(s.out_c * s.k_per_group(), 0.0f);
  c.mask.assign(c.w.size(), 0);
  const size_t taps = static_cast<size_t>(s.kh * s.kw);
  bool keep = false;
  for (size_t i = 0; i < c.w.size(); ++i) {
    if (!whole_kernels || i % taps == 0) keep = u(rng) < density;
    if (!keep) continue;
    c.mask[i] = 1;
    c.codes.push_back(static_cast<uint8_t>(code(rng)));
    c.w[i] = c.book[c.codes.back()];
  }
  c.bias = test::random_floats(rng, s.out_c);
  c.relu = dim(rng) % 2;
  return c;
}

// Runs op over column blocks of `block` (the whole image when larger) with its output
// channels in `row_blocks` blocks, the items in ranges of `chunk` taken in a scrambled order
// (any ranges in any order must do).
std::vector<float> run_op(const ConvOp& op, const RandomConv& c, int64_t block, int row_blocks,
                          int64_t chunk = 1) {
  std::vector<float> got(c.s.out_c * c.s.out_size(), -7.0f);
  std::vector<float> scratch(op.scratch_floats()), shared(op.shared_floats());
  const int64_t half = static_cast<int64_t>(shared.size()) / 2;
  op.prepare(shared.data(), half, static_cast<int64_t>(shared.size()));
  op.prepare(shared.data(), 0, half);
  const int64_t n = c.s.out_size(), rows = c.s.groups * c.s.k_per_group();
  const int rb = std::min(row_blocks, op.max_row_blocks());
  auto run_all = [&](const float* b, int64_t ldb, int64_t ncols, float* out) {
    const int64_t items = op.work_items(ncols, rb);
    for (int64_t i = (items - 1) / chunk * chunk; i >= 0; i -= chunk)
      op.run_items(b, ldb, ncols, out, n, rb, i, std::min(items, i + chunk), scratch.data(),
                   shared.data());
  };
  if (conv_reads_input_directly(c.s)) {
    run_all(c.in.data(), n, n, got.data());
    return got;
  }
  // Column blocks of odd widths: block edges and panel edges both get exercised; rows on
  // cache lines (stride rounded up to 16 floats) as the runtime lays them out.
  for (int64_t c0 = 0; c0 < n; c0 += block) {
    const int64_t ncols = std::min(block, n - c0), ld = aligned_stride(ncols);
    std::vector<float> col(rows * ld, -9.0f);
    im2col(c.s, c.in.data(), col.data(), 0, rows, c0, ncols, ld);
    run_all(col.data(), ld, ncols, got.data() + c0);
  }
  return got;
}

// op against the reference for several column blocks and row splits; every split gives the
// same bits as the first.
void check_op(const ConvOp& op, const RandomConv& c, const std::vector<float>& want) {
  const std::vector<float> first = run_op(op, c, int64_t{1} << 30, 1);
  CHECK(test::max_rel_diff(first, want) <= 1e-5);
  for (int64_t block : {int64_t{1} << 30, int64_t{37}, int64_t{64}})
    for (int row_blocks : {1, 2, 3, 7})
      for (int64_t chunk : {int64_t{1}, int64_t{3}, int64_t{1} << 30}) {
        INFO("block " << block << " row blocks " << row_blocks << " items per call " << chunk);
        CHECK(run_op(op, c, block, row_blocks, chunk) == first);
      }
}

}  // namespace

TEST_CASE("every convolution kernel equals the naive reference on random shapes and densities") {
  std::mt19937 rng(7);
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
            check_op(*op, c, want);
          }
        }
      }
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
          CHECK((op->kernel_name().find(" kc=") != std::string::npos) ==
                (kc < c.s.k_per_group()));
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

// A max pooling of a convolution's output (Caffe's output size: floor, or ceil with the last
// window starting inside the image and its padding).
PoolShape pool_of(const ConvShape& s, int64_t k, int64_t stride, int64_t pad, bool ceil_mode) {
  auto size = [&](int64_t in) {
    const int64_t span = in + 2 * pad - k;
    int64_t out = (ceil_mode ? (span + stride - 1) / stride : span / stride) + 1;
    if (ceil_mode && (out - 1) * stride >= in + pad) --out;
    return out;
  };
  return {s.out_c, s.out_h, s.out_w, size(s.out_h), size(s.out_w), k, k, stride, stride, pad,
          pad,     false};
}

TEST_CASE("a direct convolution pooled band by band equals it then max pooling, bit for bit") {
  // Pools with overlapping windows (3/2, 3/1), without (2/2), with gaps (2/3), padded, floor
  // and ceil; bands of 1 pooled row up to the whole image; rows split in blocks (threads).
  std::mt19937 rng(47);
  const int64_t pools[][4] = {{3, 2, 0, 1}, {3, 2, 0, 0}, {2, 2, 0, 0}, {3, 1, 1, 0},
                              {3, 2, 1, 1}, {2, 3, 0, 1}};
  int compared = 0, multi_band = 0;
  for (const auto& pg : pools) {
    const int kg[3] = {compared % 2 ? 5 : 7, 2, 1};
    RandomConv c = random_conv(rng, kg, 1.0, 16);
    while (c.s.groups != 1 || c.s.out_h < 4) c = random_conv(rng, kg, 1.0, 16);
    c.relu = true;
    const PoolShape ps = pool_of(c.s, pg[0], pg[1], pg[2], pg[3] == 1);
    for (const GemmKernel* k : runnable_gemm_kernels()) {
      auto op = make_direct_conv(c.s, c.coded_weights(), c.relu, *k);
      REQUIRE(op != nullptr);
      std::vector<float> conv_out(c.s.out_c * c.s.out_size()), want(ps.c * ps.out_h * ps.out_w);
      std::vector<float> shared(op->shared_floats()), arranged(op->arranged_floats());
      op->prepare(shared.data(), 0, static_cast<int64_t>(shared.size()));
      op->arrange_input(c.in.data(), arranged.data(), 0, c.s.in_c);
      op->run_direct(arranged.data(), conv_out.data(), 0, op->direct_items(), shared.data());
      ref::maxpool2d_f32(ps, conv_out.data(), want.data());
      for (int64_t band_rows : {int64_t{1}, int64_t{2}, int64_t{3}, ps.out_h}) {
        for (int64_t blocks : {int64_t{1}, std::min<int64_t>(3, ps.out_h)}) {
          INFO(op->kernel_name() << " conv " << c.s.out_c << "x" << c.s.out_h << "x" << c.s.out_w
                                 << " pool k" << ps.kh << " s" << ps.sh << " p" << ps.ph
                                 << " out_h " << ps.out_h << " band " << band_rows
                                 << " blocks " << blocks);
          std::vector<float> got(want.size(), -5.0f);
          std::vector<float> band(direct_conv_band_floats(*op, ps, band_rows), 7.0f);
          for (int64_t p = op->direct_panels() - 1; p >= 0; --p)
            for (int64_t b = blocks - 1; b >= 0; --b)
              direct_conv_maxpool_rows(*op, arranged.data(), shared.data(), ps, p,
                                       ps.out_h * b / blocks, ps.out_h * (b + 1) / blocks,
                                       band_rows, band.data(), got.data());
          CHECK(std::memcmp(got.data(), want.data(), sizeof(float) * want.size()) == 0);
          ++compared;
          multi_band += band_rows < ps.out_h;
        }
      }
    }
  }
  CHECK(compared >= 40);
  CHECK(multi_band >= 20);
}

TEST_CASE("whole-kernel sparsity runs kernel blocks and equals the reference") {
  std::mt19937 rng(23);
  const int geometries[][3] = {{3, 1, 1}, {7, 2, 0}, {3, 2, 1}, {2, 1, 0}, {5, 1, 2}};
  int blocked = 0;
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
          check_op(*op, c, want);
        }
      }
    }
  }
  CHECK(blocked > 0);
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
    for (const auto& [kh, kw, sh, ph, pw] : std::vector<std::array<int64_t, 5>>{
             {3, 3, 1, 1, 1}, {5, 5, 1, 2, 2}, {1, 3, 1, 0, 1}, {3, 1, 1, 1, 0}, {1, 1, 1, 0, 0},
             {3, 3, 1, 0, 0}, {3, 3, 2, 1, 1}, {3, 3, 1, 2, 1}}) {
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
            INFO("k=" << kh << "x" << kw << " s=" << sh << " p=" << ph << "x" << pw << " in="
                      << size << " block=" << block << " rows " << r0 << ".." << r1);
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
                false, true, got.data(), nr);
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
           got.data(), nr);
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
        PairedCsr paired;
        append_pairs(start.data(), cols.data(), rows, &paired);
        paired.pair_start.push_back(static_cast<uint32_t>(paired.cols.size()));
        std::vector<float> pvalues;
        for (uint32_t src : paired.source) pvalues.push_back(values[src]);
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
                   pvalues.data(), bias.data(), rows, b.data(), nr, false, relu, got.data(), nr);
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
                 pvalues.data(), bias.data(), rows, b.data(), nr, true, false, got.data(), nr);
        CHECK(test::max_rel_diff(got, want) <= 1e-5);
      }
    }
  }
}
