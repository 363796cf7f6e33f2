// Differential tests: every optimized kernel against its naive twin.
#include <doctest/doctest.h>

#include <cmath>

#include "../../runtime/kernels/conv_gemm.h"
#include "../../runtime/kernels/pool.h"
#include "../../runtime/kernels/ref/conv_ref.h"
#include "sqz/core/graph.h"
#include "test_util.h"

using namespace sqz;
using namespace sqz::rt;

namespace {

std::string describe(const ConvShape& s, const GemmKernel& k, double density, bool relu) {
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "kernel=%s in=%lldx%lldx%lld out_c=%lld k=%lldx%lld s=%lld p=%lld g=%lld "
                "density=%.2f relu=%d",
                k.name, (long long)s.in_c, (long long)s.in_h, (long long)s.in_w, (long long)s.out_c,
                (long long)s.kh, (long long)s.kw, (long long)s.sh, (long long)s.ph,
                (long long)s.groups, density, relu);
  return buf;
}

}  // namespace

TEST_CASE("GEMM convolution equals the naive reference on random shapes and densities") {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> dim(1, 21);
  const int kernels[][3] = {{1, 1, 0}, {3, 1, 1}, {7, 2, 0}, {3, 2, 1}, {1, 1, 1}};
  for (const GemmKernel* kernel : runnable_gemm_kernels()) {
    for (double density : {0.0, 0.1, 0.33, 0.5, 0.9, 1.0}) {
      for (const auto& kg : kernels) {
        const int64_t groups = (dim(rng) % 3 == 0) ? 2 : 1;
        ConvShape s{};
        s.in_c = dim(rng) * groups;
        s.out_c = dim(rng) * groups;  // not a multiple of MR most of the time: tile edges
        s.kh = s.kw = kg[0];
        s.sh = s.sw = kg[1];
        s.ph = s.pw = kg[2];
        s.in_h = kg[0] + dim(rng);
        s.in_w = kg[0] + dim(rng) + 30;  // more than one NR panel
        s.groups = groups;
        s.out_h = (s.in_h + 2 * s.ph - s.kh) / s.sh + 1;
        s.out_w = (s.in_w + 2 * s.pw - s.kw) / s.sw + 1;
        std::vector<float> in = test::random_floats(rng, s.in_c * s.in_h * s.in_w);
        std::vector<float> w = test::random_floats(rng, s.out_c * s.k_per_group());
        std::uniform_real_distribution<double> u(0, 1);
        for (float& x : w)
          if (u(rng) >= density) x = 0;
        std::vector<float> bias = test::random_floats(rng, s.out_c);
        const bool relu = dim(rng) % 2;
        std::vector<float> want(s.out_c * s.out_size()), got(want.size(), -7.0f);
        ref::conv2d_f32(s, in.data(), w.data(), bias.data(), relu, want.data());
        ConvGemm conv(s, w.data(), bias.data(), relu, *kernel);
        std::vector<float> scratch(conv.scratch_floats());
        std::vector<float> col(conv.im2col_floats(), -9.0f);
        if (!conv.direct()) conv.im2col(in.data(), col.data(), 0, conv.im2col_rows());
        conv.run_items(conv.direct() ? in.data() : col.data(), got.data(), 0, conv.work_items(),
                       scratch.data());
        double max_err = 0, max_ref = 1e-6;
        for (size_t i = 0; i < want.size(); ++i) {
          max_err = std::max(max_err, std::fabs(double{want[i]} - got[i]));
          max_ref = std::max(max_ref, std::fabs(double{want[i]}));
        }
        INFO(describe(s, *kernel, density, relu));
        CHECK(max_err <= 1e-5 * max_ref);
      }
    }
  }
}

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

TEST_CASE("separable max pooling equals the naive twin") {
  std::mt19937 rng(3);
  std::uniform_int_distribution<int> dim(1, 17);
  for (int trial = 0; trial < 200; ++trial) {
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
    std::vector<float> in = test::random_floats(rng, s.c * s.in_h * s.in_w);
    std::vector<float> want(s.c * s.out_h * s.out_w), got(want.size());
    ref::maxpool2d_f32(s, in.data(), want.data());
    maxpool2d_f32(s, in.data(), got.data());
    INFO("c=" << s.c << " in=" << s.in_h << "x" << s.in_w << " k=" << s.kh << "x" << s.kw
              << " s=" << s.sh << "x" << s.sw << " p=" << s.ph << "x" << s.pw);
    CHECK(got == want);
  }
}
