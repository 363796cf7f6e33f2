// Random convolutions for the kernels' differential tests (test_kernels.cc, test_conv_pool.cc):
// shapes, densities and codebooks drawn at random, the naive reference's output, and an op
// run over column blocks and row splits as the runtime runs it.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <limits>
#include <random>
#include <vector>

#include "sqz/kernels/conv_op.h"
#include "sqz/kernels/im2col.h"
#include "sqz/kernels/ref/conv_ref.h"
#include "sqz/kernels/spmm.h"
#include "test_util.h"

namespace conv_test {

using namespace sqz;
using namespace sqz::kernels;

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
inline RandomConv random_conv(std::mt19937& rng, const int (&kg)[3], double density, int book_size,
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

// A CSR's rows regrouped in pairs for SpmmPairsFn (append_pairs, its list closed), and the
// value of each of its entries in *pvalues.
inline kernels::PairedCsr pair_rows(const std::vector<uint32_t>& start,
                                    const std::vector<uint16_t>& cols,
                                    const std::vector<float>& values, int64_t rows,
                                    std::vector<float>* pvalues) {
  kernels::PairedCsr paired;
  kernels::append_pairs(start.data(), cols.data(), rows, &paired);
  paired.pair_start.push_back(static_cast<uint32_t>(paired.cols.size()));
  pvalues->clear();
  for (uint32_t src : paired.source) pvalues->push_back(values[src]);
  return paired;
}

// Runs op over column blocks of `block` (the whole image when larger) with its output
// channels in `row_blocks` blocks, the items in ranges of `chunk` taken in a scrambled order
// (any ranges in any order must do); with a residual (the output's size), by run_items_adding.
// on_image: the op builds B itself (run_items_on_image_adding; REQUIRES builds_b_from_image).
inline std::vector<float> run_op(const ConvOp& op, const RandomConv& c, int64_t block,
                                 int row_blocks, int64_t chunk = 1, const float* residual = nullptr,
                                 bool on_image = false) {
  std::vector<float> got(c.s.out_c * c.s.out_size(), -7.0f);
  std::vector<float> scratch(op.scratch_floats()), shared(op.shared_floats());
  const int64_t half = static_cast<int64_t>(shared.size()) / 2;
  op.prepare(shared.data(), half, static_cast<int64_t>(shared.size()));
  op.prepare(shared.data(), 0, half);
  const int64_t n = c.s.out_size(), rows = c.s.groups * c.s.k_per_group();
  const int rb = std::min(row_blocks, op.max_row_blocks());
  auto run_all = [&](const float* b, int64_t ldb, int64_t ncols, float* out, int64_t c0) {
    const int64_t items = op.work_items(ncols, rb);
    for (int64_t i = (items - 1) / chunk * chunk; i >= 0; i -= chunk) {
      const int64_t end = std::min(items, i + chunk);
      const float* add = residual ? residual + c0 : nullptr;
      if (on_image)
        op.run_items_on_image_adding(c.in.data(), c0, ncols, out, n, rb, i, end, scratch.data(),
                                     shared.data(), add);
      else
        op.run_items_adding(b, ldb, ncols, out, n, rb, i, end, scratch.data(), shared.data(), add);
    }
  };
  if (conv_reads_input_directly(c.s)) {
    run_all(c.in.data(), n, n, got.data(), 0);
    return got;
  }
  // Column blocks of odd widths: block edges and panel edges both get exercised; rows on
  // cache lines (stride rounded up to 16 floats) as the runtime lays them out, NaN past ncols
  // (a last panel read in place computes on them; none may reach the output).
  for (int64_t c0 = 0; c0 < n; c0 += block) {
    const int64_t ncols = std::min(block, n - c0), ld = aligned_stride(ncols);
    if (on_image) {
      run_all(nullptr, 0, ncols, got.data() + c0, c0);
      continue;
    }
    std::vector<float> col(rows * ld, std::numeric_limits<float>::quiet_NaN());
    im2col(c.s, c.in.data(), col.data(), 0, rows, c0, ncols, ld);
    run_all(col.data(), ld, ncols, got.data() + c0, c0);
  }
  return got;
}

// op against the reference for several column blocks and row splits; every split gives the
// same bits as the first, and so does an op that builds B itself (builds_b_from_image) from
// the image. Returns whether it did.
inline bool check_op(const ConvOp& op, const RandomConv& c, const std::vector<float>& want) {
  const std::vector<float> first = run_op(op, c, int64_t{1} << 30, 1);
  CHECK(test::max_rel_diff(first, want) <= 1e-5);
  for (int64_t block : {int64_t{1} << 30, int64_t{37}, int64_t{64}})
    for (int row_blocks : {1, 2, 3, 7})
      for (int64_t chunk : {int64_t{1}, int64_t{3}, int64_t{1} << 30}) {
        INFO("block " << block << " row blocks " << row_blocks << " items per call " << chunk);
        CHECK(run_op(op, c, block, row_blocks, chunk) == first);
        if (op.builds_b_from_image())
          CHECK(run_op(op, c, block, row_blocks, chunk, nullptr, true) == first);
      }
  return op.builds_b_from_image();
}

}  // namespace conv_test
