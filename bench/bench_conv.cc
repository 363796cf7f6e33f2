// Times one convolution layer's parts on one thread: building its B matrix (padding written
// out, then im2col_padded with rows on cache lines; a copy for a 1x1) and the kernel over it, for
// the dense GEMM and the sparse SpMM op at a density, and for a 1x1 the kernel on the input in
// place (the whole image as one block; the net cuts layers with a large B into column blocks);
// then the direct convolution (its input arranged and the layer computed, timed together).
// usage: bench_conv [--whole-kernels] [IN_C H W OUT_C K STRIDE PAD DENSITY]...
// --whole-kernels: each k x k kernel kept or dropped whole, as --granularity kernel prunes
// (the SpMM then runs by kernel blocks). No layers: SqueezeNet v1.0's conv1, a squeeze, the
// 1x1 and 3x3 expands at 55x55 and 13x13, at the release's densities. Prints ms per call
// (median of 15 rounds of 10) and GFLOP/s on the stored weights; for a size-keeping SpMM also
// the op with its im2col, and the op building its B panel by panel (ConvOp::run_items_on_image).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "bench_args.h"
#include "sqz/kernels/aligned.h"
#include "sqz/kernels/conv_op.h"
#include "sqz/kernels/im2col.h"
#include "sqz/kernels/machine.h"

using namespace sqz::kernels;

namespace {

struct Layer {
  int64_t in_c, h, w, out_c, k, stride, pad;
  double density;
};

template <typename F>
double median_ms(F f) {
  std::vector<double> t;
  for (int r = 0; r < 15; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    t.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

// A size-keeping SpMM both ways, each with its im2col: as the net's rule runs it, column blocks
// of a quarter of a thread's L2 share, each one's im2col (a shifted copy a row) then the op over
// it; and the op building each panel's K chunks itself (the `panels` split --tune may choose).
void print_panels(const ConvShape& s, const ConvOp& op, const float* in, float* b, float* out,
                  float* scratch) {
  const int64_t n = s.out_size(), rows = s.k_per_group();
  const int64_t block = im2col_block_columns(s), ld = aligned_stride(block);
  const double blocks_ms =
      median_ms([&] {
        for (int rep = 0; rep < 10; ++rep)
          for (int64_t c0 = 0; c0 < n; c0 += block) {
            const int64_t cols = std::min(block, n - c0);
            im2col(s, in, b, 0, rows, c0, cols, ld);
            op.run_items(b, ld, cols, out + c0, n, 1, 0, op.work_items(cols, 1), scratch, nullptr);
          }
      }) /
      10;
  const int64_t items = op.work_items(n, 1);
  const double panels_ms =
      median_ms([&] {
        for (int rep = 0; rep < 10; ++rep)
          op.run_items_on_image(in, 0, n, out, n, 1, 0, items, scratch, nullptr);
      }) /
      10;
  std::printf(", with im2col in blocks %.3f ms, panels %.3f ms", blocks_ms, panels_ms);
}

void run(const Layer& l, bool whole_kernels) {
  ConvShape s{l.in_c, l.h, l.w, l.out_c, 0, 0, l.k, l.k, l.stride, l.stride, l.pad, l.pad, 1};
  s.out_h = (l.h + 2 * l.pad - l.k) / l.stride + 1;
  s.out_w = (l.w + 2 * l.pad - l.k) / l.stride + 1;
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1, 1);
  const int64_t kk = s.k_per_group(), n = s.out_size(), ld = aligned_stride(n);
  std::vector<float> weight(static_cast<size_t>(s.out_c * kk)), bias(s.out_c, 0.1f);
  std::vector<uint8_t> mask(weight.size());
  int64_t nnz = 0;
  const size_t taps = static_cast<size_t>(l.k * l.k);
  bool keep = false;
  for (size_t i = 0; i < weight.size(); ++i) {
    weight[i] = u(rng);
    if (!whole_kernels || i % taps == 0) keep = (u(rng) + 1) / 2 < l.density;
    mask[i] = keep;
    nnz += mask[i];
    if (!mask[i]) weight[i] = 0;
  }
  AlignedFloats in(static_cast<size_t>(l.in_c * l.h * l.w)), b(static_cast<size_t>(kk * ld)),
      out(static_cast<size_t>(s.out_c * n));
  for (auto& v : in) v = u(rng);
  // As the net builds B: a 1x1's rows copied to cache-line strides; otherwise the input's
  // padding written out, then im2col from it.
  AlignedFloats padded(static_cast<size_t>(s.in_c * padded_plane(s)));
  const bool direct = conv_reads_input_directly(s);
  const double b_ms = median_ms([&] {
                        for (int rep = 0; rep < 10; ++rep) {
                          if (direct) {
                            im2col(s, in.data(), b.data(), 0, kk, 0, n, ld);
                            continue;
                          }
                          pad_planes(s, in.data(), padded.data(), 0, s.in_c);
                          im2col_padded(s, padded.data(), b.data(), 0, kk, 0, n, ld);
                        }
                      }) /
                      10;
  ConvWeights w;
  w.weight = weight.data();
  w.mask = mask.data();
  w.bias = bias.data();
  const double gflop = 2.0 * nnz * n / 1e9;
  std::printf("%3lldx%3lldx%3lld -> %4lld k%lld s%lld d%.2f: B %.3f ms", (long long)l.in_c,
              (long long)l.h, (long long)l.w, (long long)l.out_c, (long long)l.k,
              (long long)l.stride, l.density, b_ms);
  for (int sparse = 0; sparse < 2; ++sparse) {
    auto op = sparse ? make_sparse_conv(s, w, true, best_spmm_kernel())
                     : make_dense_conv(s, w, true, best_gemm_kernel());
    AlignedFloats scratch(static_cast<size_t>(op->scratch_floats() + 64));
    auto time = [&](const float* rows, int64_t ldb) {
      return median_ms([&] {
               for (int rep = 0; rep < 10; ++rep)
                 op->run_items(rows, ldb, n, out.data(), n, 1, 0, op->work_items(n, 1),
                               scratch.data(), nullptr);
             }) /
             10;
    };
    const double ms = time(b.data(), ld);
    std::printf(" | %s %.3f ms %.0f GF/s", sparse ? "spmm" : "gemm", ms, gflop / ms * 1e3);
    // A 1x1 layer may read its input in place (rows not on cache lines when n % 16 != 0).
    if (direct) std::printf(", in place %.3f ms", time(in.data(), n));
    if (op->builds_b_from_image())
      print_panels(s, *op, in.data(), b.data(), out.data(), scratch.data());
  }
  // The direct convolution: the input arranged, then the tile over it (no B matrix).
  if (auto op = make_direct_conv(s, w, true, best_gemm_kernel())) {
    AlignedFloats arranged(static_cast<size_t>(op->arranged_floats()));
    const double ms = median_ms([&] {
                        for (int rep = 0; rep < 10; ++rep) {
                          op->arrange_input(in.data(), arranged.data(), 0, s.in_c);
                          op->run_direct(arranged.data(), out.data(), 0, op->direct_items(),
                                         nullptr);
                        }
                      }) /
                      10;
    std::printf(" | direct %.3f ms %.0f GF/s", ms, gflop / ms * 1e3);
  }
  std::printf("\n");
}

constexpr const char* kUsage =
    "usage: bench_conv [--whole-kernels] [IN_C H W OUT_C K STRIDE PAD DENSITY]...\n";

// One layer's eight fields, each within limits, or what is wrong with them. The limits keep a
// layer's buffers (input, weights, B) within 2^26 floats each.
const char* parse_layer(char** field, Layer* l) {
  using sqz::bench::parse_int;
  int64_t* ints[7] = {&l->in_c, &l->h, &l->w, &l->out_c, &l->k, &l->stride, &l->pad};
  const int64_t hi[7] = {4096, 4096, 4096, 4096, 15, 16, 14};
  const int64_t lo[7] = {1, 1, 1, 1, 1, 1, 0};
  for (int f = 0; f < 7; ++f)
    if (!parse_int(field[f], lo[f], hi[f], ints[f]))
      return "IN_C, OUT_C, H and W take 1 to 4096, K 1 to 15, STRIDE 1 to 16, PAD 0 to 14";
  if (!sqz::bench::parse_real(field[7], 1e-6, 1.0, &l->density)) return "DENSITY takes (0, 1]";
  if (l->pad >= l->k) return "PAD must be below K";
  if (l->k > l->h + 2 * l->pad || l->k > l->w + 2 * l->pad) return "K is larger than the padded input";
  const int64_t out = ((l->h + 2 * l->pad - l->k) / l->stride + 1) *
                      ((l->w + 2 * l->pad - l->k) / l->stride + 1);
  const int64_t limit = int64_t{1} << 26;
  if (l->in_c * l->h * l->w > limit || l->out_c * l->in_c * l->k * l->k > limit ||
      l->in_c * l->k * l->k * (out + 16) > limit || l->out_c * out > limit)
    return "the layer's input, weights, B matrix or output exceeds 2^26 floats";
  return nullptr;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && (std::string(argv[1]) == "-h" || std::string(argv[1]) == "--help")) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  std::vector<Layer> layers;
  const bool whole_kernels = argc > 1 && std::string(argv[1]) == "--whole-kernels";
  if (whole_kernels) --argc, ++argv;
  if (argc > 1) {
    if ((argc - 1) % 8 != 0) {
      std::fprintf(stderr, "%s", kUsage);
      return 2;
    }
    for (int i = 1; i < argc; i += 8) {
      Layer l{};
      if (const char* bad = parse_layer(argv + i, &l)) {
        std::fprintf(stderr, "bench_conv: layer %d: %s\n", (i - 1) / 8 + 1, bad);
        return 2;
      }
      layers.push_back(l);
    }
  } else {
    layers = {{3, 227, 227, 96, 7, 2, 0, 0.985}, {3, 224, 224, 64, 3, 2, 0, 1.0},
              {96, 55, 55, 16, 1, 1, 0, 0.995},
              {16, 55, 55, 64, 1, 1, 0, 0.996},  {16, 55, 55, 64, 3, 1, 1, 0.33},
              {32, 55, 55, 128, 3, 1, 1, 0.33},  {64, 13, 13, 256, 3, 1, 1, 0.30},
              {512, 13, 13, 1000, 1, 1, 0, 0.20}};
  }
  std::fputs(sqz::kernels::describe_machine(sqz::kernels::machine()).c_str(), stdout);
  for (const Layer& l : layers) run(l, whole_kernels);
}
