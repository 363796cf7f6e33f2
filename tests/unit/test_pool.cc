// Differential tests of the pooling kernels: Caffe's windows by hand, and every optimized
// max pooling (with and without winners) against its naive twin.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "sqz/kernels/pool.h"
#include "test_util.h"

using namespace sqz;
using namespace sqz::kernels;

TEST_CASE("pooling follows Caffe: ceil windows clipped to the image, padded averages") {
  // 1 channel, 4x4 image 0..15, 3x3 window stride 2, ceil: 2x2 output.
  std::vector<float> in(16);
  for (int i = 0; i < 16; ++i) in[i] = static_cast<float>(i);
  PoolShape s{1, 4, 4, 2, 2, 3, 3, 2, 2, 0, 0, true};
  std::vector<float> out(4);
  maxpool2d_f32(s, in.data(), out.data());
  CHECK(out == std::vector<float>{10, 11, 14, 15});
  avgpool2d_f32(s, in.data(), out.data());
  CHECK(out[0] == doctest::Approx(5.0));                        // mean of rows 0-2, cols 0-2
  CHECK(out[3] == doctest::Approx((10 + 11 + 14 + 15) / 4.0));  // window clipped at the edge
  // With padding 1, Caffe divides by the window inside [-1, 5): 3x3 = 9 for the first one.
  PoolShape p{1, 4, 4, 3, 3, 3, 3, 2, 2, 1, 1, true};
  std::vector<float> out3(9);
  avgpool2d_f32(p, in.data(), out3.data());
  CHECK(out3[0] == doctest::Approx((0 + 1 + 4 + 5) / 9.0));
  p.average_counts_padding = false;
  avgpool2d_f32(p, in.data(), out3.data());
  CHECK(out3[0] == doctest::Approx((0 + 1 + 4 + 5) / 4.0));
  std::vector<float> g(1);
  global_avgpool_f32(1, 16, in.data(), g.data());
  CHECK(g[0] == doctest::Approx(7.5));
}

TEST_CASE("every hand-written 3x3/2 max pooling kernel equals the naive twin") {
  std::mt19937 rng(5);
  for (const MaxPool3x3s2Kernel& k : runnable_maxpool_3x3s2_kernels()) {
    // SqueezeNet's sizes (111, 55, 27), odd and even widths, rows of 8 to 9 outputs.
    for (int64_t size : {111, 55, 27, 17, 18, 19, 20, 33, 40}) {
      PoolShape s{3, size, size + 2, 0, 0, 3, 3, 2, 2, 0, 0, false};
      s.out_h = (size - 3) / 2 + 1;
      s.out_w = (size + 2 - 3) / 2 + 1;
      if (s.out_w < k.min_out_w) continue;
      std::vector<float> in = test::random_floats(rng, s.c * s.in_h * s.in_w);
      std::vector<float> want(s.c * s.out_h * s.out_w), got(want.size(), -1.0f);
      ref::maxpool2d_f32(s, in.data(), want.data());
      k.fn(in.data(), s.in_h * s.in_w, s.in_w, s.c, s.out_h, s.out_w, got.data(),
           s.out_h * s.out_w);
      INFO(k.name << " in=" << s.in_h << "x" << s.in_w);
      CHECK(got == want);
    }
  }
}

namespace {

// A random pooling geometry: windows up to 4x4, strides up to 3, padding below the window,
// ceil-mode output sizes.
PoolShape random_pool_shape(std::mt19937& rng) {
  std::uniform_int_distribution<int> dim(1, 17);
  PoolShape s{};
  s.c = dim(rng) % 4 + 1;
  s.kh = dim(rng) % 4 + 1;
  s.kw = dim(rng) % 4 + 1;
  s.sh = dim(rng) % 3 + 1;
  s.sw = dim(rng) % 3 + 1;
  s.ph = dim(rng) % s.kh;
  s.pw = dim(rng) % s.kw;
  s.in_h = s.kh + dim(rng);
  s.in_w = s.kw + dim(rng);
  s.out_h = pooled_size(s.in_h, s.kh, s.sh, s.ph, PoolRounding::kCeil);
  s.out_w = pooled_size(s.in_w, s.kw, s.sw, s.pw, PoolRounding::kCeil);
  return s;
}

// maxpool2d_argmax_f32 against its twin, winners and values; returns the values, with 0 where
// a window had no winner.
std::vector<float> check_pool_winners(const PoolShape& s, const std::vector<float>& in,
                                      bool* every_window_won = nullptr) {
  const size_t n = static_cast<size_t>(s.c * s.out_h * s.out_w);
  std::vector<float> want(n), got(n, 7.0f);
  std::vector<int32_t> want_arg(n), got_arg(n, -9);
  ref::maxpool2d_argmax_f32(s, in.data(), want.data(), want_arg.data());
  for (Isa isa : {Isa::kGeneric, Isa::kAvx2, Isa::kAvx512}) {  // every path this CPU runs
    if (static_cast<int>(isa) > static_cast<int>(machine().isa)) continue;
    INFO("paths of " << isa_name(isa));
    std::vector<float> path(n, 7.0f);
    std::vector<int32_t> path_arg(n, -9);
    maxpool2d_argmax_f32(s, in.data(), path.data(), path_arg.data(), isa);
    CHECK(path_arg == want_arg);
    CHECK(path == want);
  }
  maxpool2d_argmax_f32(s, in.data(), got.data(), got_arg.data());
  CHECK(got_arg == want_arg);
  CHECK(got == want);
  if (every_window_won)
    *every_window_won = std::find(want_arg.begin(), want_arg.end(), -1) == want_arg.end();
  return got;
}

}  // namespace

TEST_CASE("max pooling with winners: first largest in row-major order, as the naive twin") {
  // Hand-solved: 5 at (0, 2) and at (1, 0) of one 3x3 window; row-major order takes (0, 2).
  {
    const float inf = std::numeric_limits<float>::infinity(), nan = std::nanf("");
    std::vector<float> in = {0, 1, 5, 5, 2, 3, 4, 4, 1};
    PoolShape s{1, 3, 3, 1, 1, 3, 3, 1, 1, 0, 0, false};
    float out = -1;
    int32_t arg = -9;
    maxpool2d_argmax_f32(s, in.data(), &out, &arg);
    CHECK(out == 5.0f);
    CHECK(arg == 2);
    // Nothing above -inf (NaN never wins): no winner, output 0.
    in = {-inf, nan, -inf, nan, -inf, -inf, nan, nan, -inf};
    maxpool2d_argmax_f32(s, in.data(), &out, &arg);
    CHECK(arg == -1);
    CHECK(out == 0.0f);
  }
  std::mt19937 rng(11);
  std::uniform_int_distribution<int> pick(0, 7);
  // Few distinct values, so that windows tie often; -inf and NaN among them.
  const float values[] = {-std::numeric_limits<float>::infinity(), std::nanf(""), -1, 0, 0, 1,
                          2, 2};
  std::uniform_real_distribution<float> uniform(-1, 1);
  auto draw = [&](bool ties) { return ties ? values[pick(rng)] : uniform(rng); };
  for (int trial = 0; trial < 300; ++trial) {
    const PoolShape s = random_pool_shape(rng);
    std::vector<float> in(static_cast<size_t>(s.c * s.in_h * s.in_w));
    for (float& v : in) v = draw(trial % 2);
    INFO("c=" << s.c << " in=" << s.in_h << "x" << s.in_w << " k=" << s.kh << "x" << s.kw
              << " s=" << s.sh << "x" << s.sw << " p=" << s.ph << "x" << s.pw);
    bool every_window_won = false;
    const std::vector<float> got = check_pool_winners(s, in, &every_window_won);
    // Where every window has a winner (ceil mode can leave a last one wholly outside the
    // image), the values are maxpool2d_f32's.
    if (!every_window_won || trial % 2) continue;
    std::vector<float> plain(got.size());
    maxpool2d_f32(s, in.data(), plain.data());
    CHECK(plain == got);
  }
  // SqueezeNet's 3x3/2 windows (a vectorized path), ceil mode: whole and clipped windows.
  for (int64_t size : {28, 14, 111, 55, 27, 9, 10, 11, 12, 13, 3, 4, 32, 64}) {
    for (int ties = 0; ties < 2; ++ties) {
      PoolShape s{3, size, size + 1, 0, 0, 3, 3, 2, 2, 0, 0, false};
      s.out_h = pooled_size(s.in_h, 3, 2, 0, PoolRounding::kCeil);
      s.out_w = pooled_size(s.in_w, 3, 2, 0, PoolRounding::kCeil);
      std::vector<float> in(static_cast<size_t>(s.c * s.in_h * s.in_w));
      for (float& v : in) v = draw(ties);
      INFO("in=" << s.in_h << "x" << s.in_w << " ties=" << ties);
      check_pool_winners(s, in);
    }
  }
}

TEST_CASE("separable max pooling equals the naive twin") {
  std::mt19937 rng(3);
  for (int trial = 0; trial < 200; ++trial) {
    const PoolShape s = random_pool_shape(rng);
    std::vector<float> in = test::random_floats(rng, s.c * s.in_h * s.in_w);
    std::vector<float> want(s.c * s.out_h * s.out_w), got(want.size());
    ref::maxpool2d_f32(s, in.data(), want.data());
    maxpool2d_f32(s, in.data(), got.data());
    INFO("c=" << s.c << " in=" << s.in_h << "x" << s.in_w << " k=" << s.kh << "x" << s.kw
              << " s=" << s.sh << "x" << s.sw << " p=" << s.ph << "x" << s.pw);
    CHECK(got == want);
  }
  // The specialized windows (3x3/2, 2x2/2, 3x3/1) at SqueezeNet's sizes, ceil mode, padded.
  for (const auto& [k, st, pad, size] : std::vector<std::array<int64_t, 4>>{{3, 2, 0, 111},
                                                                            {3, 2, 0, 55},
                                                                            {3, 2, 0, 27},
                                                                            {3, 2, 0, 33},
                                                                            {3, 2, 0, 35},
                                                                            {3, 2, 0, 67},
                                                                            {3, 2, 0, 10},
                                                                            {3, 2, 0, 3},
                                                                            {2, 2, 0, 13},
                                                                            {3, 1, 1, 9},
                                                                            {3, 2, 1, 8}}) {
    PoolShape s{2, size, size, 0, 0, k, k, st, st, pad, pad, false};
    s.out_h = s.out_w = pooled_size(size, k, st, pad, PoolRounding::kCeil);
    std::vector<float> in = test::random_floats(rng, s.c * size * size);
    std::vector<float> want(s.c * s.out_h * s.out_w), got(want.size());
    ref::maxpool2d_f32(s, in.data(), want.data());
    maxpool2d_f32(s, in.data(), got.data());
    INFO("k=" << k << " s=" << st << " p=" << pad << " size=" << size);
    CHECK(got == want);
  }
}
