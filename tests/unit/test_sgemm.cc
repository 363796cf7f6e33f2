// sgemm (the training engine's and the statistics' matrix product) against its naive twin,
// and its K blocking, which must not change a bit.
#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <cstring>
#include <random>

#include "sqz/kernels/sgemm.h"
#include "test_util.h"

using namespace sqz;
using namespace sqz::kernels;

namespace {

// A random product's operands, each stored as given or transposed, and C with a margin of
// sentinel columns past n that sgemm must not write.
struct Product {
  int64_t m = 0, n = 0, k = 0;
  std::vector<float> a, b;  // A as m x k, B as k x n
  bool ta = false, tb = false;
  static constexpr int64_t kMargin = 3;
  static constexpr float kSentinel = -7.5f;

  std::vector<float> stored(const std::vector<float>& x, int64_t rows, int64_t cols,
                            bool transposed) const {
    if (!transposed) return x;
    std::vector<float> t(x.size());
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) t[c * rows + r] = x[r * cols + c];
    return t;
  }
  std::vector<float> run(const GemmKernel& kernel, int64_t k_block) const {
    const std::vector<float> sa = stored(a, m, k, ta), sb = stored(b, k, n, tb);
    std::vector<float> c(static_cast<size_t>(m * (n + kMargin)), kSentinel), scratch;
    sgemm(m, n, k, {sa.data(), ta ? m : k, ta}, {sb.data(), tb ? k : n, tb}, c.data(), n + kMargin,
          &scratch, kernel, k_block);
    return c;
  }
};

// C (m x n, rows n + kMargin apart) against sum_t a(i, t) b(t, j) in double, within 1e-5 of
// the sum of the terms' magnitudes; the margin's sentinels untouched.
template <class A, class B>
void require_near_double(const std::vector<float>& c, int64_t m, int64_t n, int64_t k, A a, B b) {
  const int64_t ldc = n + Product::kMargin;
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double want = 0, scale = 0;
      for (int64_t t = 0; t < k; ++t) {
        const double term = double{a(i, t)} * b(t, j);
        want += term;
        scale += std::fabs(term);
      }
      REQUIRE(std::fabs(c[i * ldc + j] - want) <= 1e-5 * scale + 1e-30);
    }
    for (int64_t j = n; j < ldc; ++j) REQUIRE(c[i * ldc + j] == Product::kSentinel);
  }
}

Product random_product(std::mt19937& rng, bool ta, bool tb) {
  std::uniform_int_distribution<int64_t> dim(1, 40), deep(0, 700);
  Product p;
  p.m = dim(rng);
  p.n = dim(rng) + (dim(rng) > 20 ? 70 : 0);  // sometimes several column panels
  p.k = deep(rng);
  p.a = test::random_floats(rng, p.m * p.k);
  p.b = test::random_floats(rng, p.k * p.n);
  p.ta = ta;
  p.tb = tb;
  return p;
}

}  // namespace

TEST_CASE("sgemm equals its naive twin for every kernel, operand layout and K block") {
  std::mt19937 rng(11);
  for (const GemmKernel* kernel : runnable_gemm_kernels())
    for (int layout = 0; layout < 4; ++layout)
      for (int trial = 0; trial < 6; ++trial) {
        const Product p = random_product(rng, layout & 1, layout & 2);
        for (int64_t k_block : {int64_t{0}, int64_t{1}, int64_t{7}, int64_t{64}}) {
          INFO(kernel->name << " layout " << layout << ": " << p.m << " x " << p.n << " x "
                            << p.k << ", K block " << k_block);
          require_near_double(p.run(*kernel, k_block), p.m, p.n, p.k,
                              [&](int64_t i, int64_t t) { return p.a[i * p.k + t]; },
                              [&](int64_t t, int64_t j) { return p.b[t * p.n + j]; });
        }
      }
}

TEST_CASE("sgemm's K blocks and operand layouts do not change a bit of the product") {
  std::mt19937 rng(12);
  for (const GemmKernel* kernel : runnable_gemm_kernels())
    for (int trial = 0; trial < 12; ++trial) {
      Product p = random_product(rng, false, false);
      const std::vector<float> whole = p.run(*kernel, 1 << 20);  // one block
      CAPTURE(kernel->name);
      CAPTURE(p.m);
      CAPTURE(p.n);
      CAPTURE(p.k);
      for (int64_t k_block : {int64_t{0}, int64_t{1}, int64_t{5}, int64_t{16}, int64_t{256}}) {
        CAPTURE(k_block);
        for (int layout = 0; layout < 4; ++layout) {
          CAPTURE(layout);
          p.ta = layout & 1;
          p.tb = layout & 2;
          const std::vector<float> c = p.run(*kernel, k_block);
          REQUIRE(std::memcmp(c.data(), whole.data(), sizeof(float) * c.size()) == 0);
        }
      }
    }
}

TEST_CASE("the K block fills half of L1d with B's panel") {
  for (const GemmKernel* kernel : runnable_gemm_kernels()) {
    const int64_t kc = gemm_k_block(*kernel);
    CHECK(kc >= 16);
    CHECK(kc * kernel->nr * 4 <= l1d_per_thread(machine()) / 2);
    if (kc > 16) CHECK((kc + 1) * kernel->nr * 4 > l1d_per_thread(machine()) / 2);
  }
}

TEST_CASE("a narrow product computed as its transpose has the same bits as computed directly") {
  // sgemm computes C = A B, or C^T = B^T A^T when that fills the tiles better; of the
  // product and its transpose asked for, one takes each route wherever their tiles differ.
  std::mt19937 rng(13);
  const std::vector<std::array<int64_t, 3>> shapes = {
      {48, 9, 3000}, {128, 32, 700}, {32, 16, 900}, {96, 32, 65}, {7, 3, 5}, {40, 1, 300}};
  for (const GemmKernel* kernel : runnable_gemm_kernels())
    for (const auto& [m, n, k] : shapes)
      for (int layout = 0; layout < 4; ++layout) {
        CAPTURE(kernel->name);
        CAPTURE(m);
        CAPTURE(n);
        CAPTURE(layout);
        Product p;
        p.m = m;
        p.n = n;
        p.k = k;
        p.a = test::random_floats(rng, m * k);
        p.b = test::random_floats(rng, k * n);
        p.ta = layout & 1;
        p.tb = layout & 2;
        Product t;  // C^T = B^T A^T
        t.m = n;
        t.n = m;
        t.k = k;
        t.a = p.stored(p.b, k, n, true);
        t.b = p.stored(p.a, m, k, true);
        t.ta = !p.tb;
        t.tb = !p.ta;
        const std::vector<float> c = p.run(*kernel, 0), ct = t.run(*kernel, 0);
        int64_t differing = 0;
        for (int64_t i = 0; i < m; ++i)
          for (int64_t j = 0; j < n; ++j) {
            const float x = c[i * (n + Product::kMargin) + j];
            const float y = ct[j * (m + Product::kMargin) + i];
            differing += std::memcmp(&x, &y, sizeof x) != 0;
          }
        REQUIRE(differing == 0);
      }
}

namespace {

// sgemm_nt's operands (A as m x k, B as n x k, both along k) and C with sentinel columns.
struct NtProduct {
  int64_t m = 0, n = 0, k = 0;
  std::vector<float> a, b;

  std::vector<float> run(const GemmKernel& kernel, int64_t k_block) const {
    std::vector<float> c(static_cast<size_t>(m * (n + Product::kMargin)), Product::kSentinel);
    std::vector<float> scratch(5, 123.0f);  // stale contents must not leak into C
    sgemm_nt(m, n, k, a.data(), k, b.data(), k, c.data(), n + Product::kMargin, &scratch, kernel,
             k_block);
    return c;
  }
  float at(const std::vector<float>& c, int64_t i, int64_t j) const {
    return c[i * (n + Product::kMargin) + j];
  }
};

NtProduct random_nt(std::mt19937& rng, int64_t max_dim, int64_t max_k) {
  std::uniform_int_distribution<int64_t> dim(1, max_dim), deep(0, max_k);
  NtProduct p;
  p.m = dim(rng);
  p.n = dim(rng);
  p.k = deep(rng);
  p.a = test::random_floats(rng, p.m * p.k);
  p.b = test::random_floats(rng, p.n * p.k);
  return p;
}

// The order sgemm_nt documents, element by element: lane l adds the products of positions
// t = l (mod lanes) in order (fused where the kernel's ISA has FMA, as its tile compiles),
// zero-padded to whole vectors, then the lanes pairwise, halving.
float documented_dot(const float* a, const float* b, int64_t k, int lanes, bool fused) {
  std::vector<float> lane(static_cast<size_t>(lanes), 0.0f);
  const int64_t padded = (k + lanes - 1) / lanes * lanes;
  for (int64_t t = 0; t < padded; ++t) {
    const float x = t < k ? a[t] : 0.0f, y = t < k ? b[t] : 0.0f;
    float& s = lane[static_cast<size_t>(t % lanes)];
    if (fused) {
      s = std::fma(x, y, s);
    } else {
      volatile float product = x * y;  // rounded before the add, as SSE computes it
      s = s + product;
    }
  }
  for (int half = lanes / 2; half >= 1; half /= 2)
    for (int l = 0; l < half; ++l) lane[l] += lane[l + half];
  return lane[0];
}

}  // namespace

TEST_CASE("sgemm_nt equals its naive twin for every kernel and K block") {
  std::mt19937 rng(21);
  for (const GemmKernel* kernel : runnable_gemm_kernels())
    for (int trial = 0; trial < 12; ++trial) {
      const NtProduct p = random_nt(rng, trial % 3 ? 13 : 70, trial % 4 ? 900 : 20);
      for (int64_t k_block : {int64_t{0}, int64_t{1}, int64_t{48}, int64_t{256}}) {
        INFO(kernel->name << ": " << p.m << " x " << p.n << " x " << p.k << ", K block "
                          << k_block);
        require_near_double(p.run(*kernel, k_block), p.m, p.n, p.k,
                            [&](int64_t i, int64_t t) { return p.a[i * p.k + t]; },
                            [&](int64_t t, int64_t j) { return p.b[j * p.k + t]; });
      }
    }
}

TEST_CASE("sgemm_nt adds in the documented order, whatever the K block or operand order") {
  // Bit for bit: the lanes keep their positions across K blocks and tiles, and C^T asked
  // for (which swaps which operand is the outer one) is the same floats.
  std::mt19937 rng(22);
  for (const GemmKernel* kernel : runnable_gemm_kernels())
    for (int trial = 0; trial < 10; ++trial) {
      const NtProduct p = random_nt(rng, trial % 2 ? 11 : 45, 2000);
      NtProduct t = p;  // C^T = B x A^T
      std::swap(t.m, t.n);
      std::swap(t.a, t.b);
      CAPTURE(kernel->name);
      CAPTURE(p.m);
      CAPTURE(p.n);
      CAPTURE(p.k);
      const bool fused = kernel->isa != Isa::kGeneric;
      for (int64_t k_block : {int64_t{0}, int64_t{5}, int64_t{16}, int64_t{96}, int64_t{1000}}) {
        CAPTURE(k_block);
        const std::vector<float> c = p.run(*kernel, k_block), ct = t.run(*kernel, k_block);
        int64_t differing = 0;
        for (int64_t i = 0; i < p.m; ++i)
          for (int64_t j = 0; j < p.n; ++j) {
            const float want = documented_dot(&p.a[i * p.k], &p.b[j * p.k], p.k,
                                              kernel->dot_lanes, fused);
            const float x = p.at(c, i, j), y = t.at(ct, j, i);
            differing += std::memcmp(&x, &want, sizeof x) != 0;
            differing += std::memcmp(&y, &want, sizeof y) != 0;
          }
        REQUIRE(differing == 0);
      }
    }
}

TEST_CASE("sgemm_nt gives the same bits on AVX2 as on AVX-512") {
  const GemmKernel* avx512 = gemm_kernel_for(Isa::kAvx512);
  const GemmKernel* avx2 = gemm_kernel_for(Isa::kAvx2);
  if (avx512 == nullptr || avx2 == nullptr) {
    MESSAGE("skipped: this CPU (or SQZ_ISA) does not run both AVX2 and AVX-512");
    return;
  }
  std::mt19937 rng(23);
  for (int trial = 0; trial < 8; ++trial) {
    const NtProduct p = random_nt(rng, 40, 3000);
    CAPTURE(p.m);
    CAPTURE(p.n);
    CAPTURE(p.k);
    const std::vector<float> c512 = p.run(*avx512, 0), c2 = p.run(*avx2, 0);
    REQUIRE(std::memcmp(c512.data(), c2.data(), sizeof(float) * c2.size()) == 0);
  }
}
