// Convolutions pooled band by band (conv_op.h: direct_conv_maxpool_rows,
// im2col_conv_maxpool_rows) against the convolution then the max pooling.
#include <doctest/doctest.h>

#include <cstring>

#include "random_conv.h"
#include "sqz/kernels/gemm.h"
#include "sqz/kernels/pool.h"
#include "sqz/kernels/spmm.h"

using namespace sqz;
using namespace sqz::kernels;
using namespace conv_test;

namespace {

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

}  // namespace

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


TEST_CASE("a GEMM or SpMM convolution pooled band by band equals it then max pooling, bit for bit") {
  // Stems as SqueezeNet v1.1 (3x3/2) and v1.0 (7x7/2), a padded 3x3 and a 1x1, each pooled
  // 3/2 (floor and ceil), 2/2 and 3/1 padded; bands of 1 pooled row up to the whole image.
  std::mt19937 rng(53);
  const int geometries[][3] = {{3, 2, 0}, {7, 2, 0}, {3, 1, 1}, {1, 1, 0}};
  const int64_t pools[][4] = {{3, 2, 0, 1}, {3, 2, 0, 0}, {2, 2, 0, 0}, {3, 1, 1, 0}};
  int compared = 0, multi_band = 0;
  for (int i = 0; i < 4; ++i) {
    RandomConv c = random_conv(rng, geometries[i], i % 2 ? 1.0 : 0.4, 16);
    while (c.s.groups != 1 || c.s.out_h < 4) c = random_conv(rng, geometries[i], 1.0, 16);
    c.relu = true;
    const PoolShape ps = pool_of(c.s, pools[i][0], pools[i][1], pools[i][2], pools[i][3] == 1);
    std::vector<std::unique_ptr<ConvOp>> ops;
    for (const GemmKernel* k : runnable_gemm_kernels())
      ops.push_back(make_dense_conv(c.s, c.coded_weights(), c.relu, *k));
    for (const SpmmKernel* k : runnable_spmm_kernels())
      ops.push_back(make_sparse_conv(c.s, c.f32_weights(), c.relu, *k));
    for (const auto& op : ops) {
      const std::vector<float> conv_out = run_op(*op, c, int64_t{1} << 30, 1);
      std::vector<float> want(ps.c * ps.out_h * ps.out_w);
      ref::maxpool2d_f32(ps, conv_out.data(), want.data());
      std::vector<float> shared(op->shared_floats()), scratch(op->scratch_floats());
      op->prepare(shared.data(), 0, static_cast<int64_t>(shared.size()));
      for (int64_t band_rows : {int64_t{1}, int64_t{2}, int64_t{3}, ps.out_h}) {
        for (int64_t blocks : {int64_t{1}, std::min<int64_t>(3, ps.out_h)}) {
          INFO(op->kernel_name() << " conv " << c.s.out_c << "x" << c.s.out_h << "x" << c.s.out_w
                                 << " k" << c.s.kh << " s" << c.s.sh << " pool k" << ps.kh
                                 << " s" << ps.sh << " p" << ps.ph << " band " << band_rows
                                 << " blocks " << blocks);
          std::vector<float> got(want.size(), -5.0f);
          std::vector<float> band(im2col_conv_band_floats(*op, ps, band_rows), 7.0f);
          std::vector<float> cols(im2col_conv_cols_floats(*op, ps, band_rows), 9.0f);
          for (int64_t b = blocks - 1; b >= 0; --b)
            im2col_conv_maxpool_rows(*op, c.in.data(), shared.data(), ps, ps.out_h * b / blocks,
                                     ps.out_h * (b + 1) / blocks, band_rows, cols.data(),
                                     band.data(), scratch.data(), got.data());
          CHECK(std::memcmp(got.data(), want.data(), sizeof(float) * want.size()) == 0);
          ++compared;
          multi_band += band_rows < ps.out_h;
        }
      }
    }
  }
  CHECK(compared >= 48);
  CHECK(multi_band >= 24);
}
