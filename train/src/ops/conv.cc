#include <algorithm>

#include "ops.h"
#include "sqz/kernels/cpu_clones.h"
#include "sqz/kernels/im2col.h"
#include "sqz/kernels/sgemm.h"

namespace sqz::train {
namespace {

// Adds the im2col-shaped gradient back onto the input image (the adjoint of im2col). Per
// row, the output columns whose input column lies inside the image are found once, so the
// inner loop has no bounds checks (and vectorizes for stride 1).
// col: K rows of one image's out_h*out_w gradients, row stride ld; channel c's plane of the
// image's dx at dx + c * plane_stride.
SQZ_CPU_CLONES void col2im_add(const kernels::ConvShape& s, const float* col, int64_t ld,
                               int64_t plane_stride, float* dx) {
  const int64_t taps = s.kh * s.kw, n = ld;
  for (int64_t row = 0; row < s.in_c * taps; ++row) {
    const int64_t c = row / taps, i = row % taps / s.kw, j = row % s.kw;
    float* plane = dx + c * plane_stride;
    const float* src = col + row * n;
    const int64_t x_lo = std::min(s.out_w, std::max<int64_t>(0, (s.pw - j + s.sw - 1) / s.sw));
    const int64_t x_hi = std::max(x_lo, std::min(s.out_w, (s.in_w + s.pw - j + s.sw - 1) / s.sw));
    for (int64_t oy = 0; oy < s.out_h; ++oy) {
      const int64_t iy = oy * s.sh - s.ph + i;
      if (iy < 0 || iy >= s.in_h) continue;
      float* dst = plane + iy * s.in_w + x_lo * s.sw - s.pw + j;
      const float* g = src + oy * s.out_w + x_lo;
      if (s.sw == 1)
        for (int64_t x = 0; x < x_hi - x_lo; ++x) dst[x] += g[x];
      else
        for (int64_t x = 0; x < x_hi - x_lo; ++x) dst[x * s.sw] += g[x];
    }
  }
}

// col2im_add for a whole batch of a size-keeping convolution (kernels::conv_keeps_size), the
// adjoint of kernels::im2col_same_batch: row (c, i, j) of dcol (n images' columns side by side,
// row stride ld) is added to channel c's block of dx (its n planes together) shifted by the
// tap's offset, after zeroing the columns whose window reads the padding (they would land on a
// neighbouring row or image). dcol is scratch: those columns are overwritten. Each element of
// dx receives the rows in the same order as from col2im_add, plus zeros; its sum starts from
// +0 (zeroed, or a product whose accumulators start from +0), so it is never -0 and adding
// +0 changes no bit: the result is the same floats.
SQZ_CPU_CLONES void col2im_same_batch_add(const kernels::ConvShape& s, float* dcol, int64_t n,
                                          int64_t ld, float* dx) {
  const int64_t total = n * s.in_h * s.in_w;
  for (int64_t row = 0; row < s.in_c * s.kh * s.kw; ++row) {
    float* __restrict g = dcol + row * ld;
    kernels::zero_padding_columns(s, row, n, g);
    const kernels::SameBatchRow r = kernels::same_batch_row(s, row, n);
    float* __restrict dst = dx + r.channel * total + r.lo + r.shift;  // lo + shift >= 0
    const float* __restrict src = g + r.lo;
    for (int64_t p = 0; p < r.hi - r.lo; ++p) dst[p] += src[p];
  }
}

// Scratch of at least n floats whose contents are not kept: grown only, since a vector shrunk
// and grown again zero-fills what it regains (the layers' sizes alternate in every step).
void grow(std::vector<float>& v, size_t n) {
  if (v.size() < n) v.resize(n);
}

// The sum of x[0..n) in double, over 8 interleaved partial sums (lane i takes the elements
// i mod 8), so the loop vectorizes; deterministic for a given n, whatever the ISA.
SQZ_CPU_CLONES double sum_lanes(const float* __restrict x, int64_t n) {
  double lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t j = 0;
  for (; j + 8 <= n; j += 8)
    for (int i = 0; i < 8; ++i) lane[i] += x[j + i];
  for (int i = 0; j < n; ++j, ++i) lane[i] += x[j];
  return ((lane[0] + lane[4]) + (lane[1] + lane[5])) + ((lane[2] + lane[6]) + (lane[3] + lane[7]));
}

// y ([out_c x cols], in place) += bias, through the ReLU when relu.
SQZ_CPU_CLONES void add_bias(float* y, int64_t out_c, int64_t cols, const float* bias, bool relu) {
  for (int64_t c = 0; c < out_c; ++c) {
    const float add = bias ? bias[c] : 0.0f;
    float* row = y + c * cols;
    if (relu)
      for (int64_t p = 0; p < cols; ++p) row[p] = std::max(row[p] + add, 0.0f);
    else
      for (int64_t p = 0; p < cols; ++p) row[p] = row[p] + add;
  }
}

// Whether a weight gradient of out_c x k (k: the layer's taps) is computed as dot products
// (sgemm_nt) rather than by sgemm over transposed panels: when a side is at most 32, where
// sgemm moves a float into its panels per 32 multiply-adds or fewer and fills few of its
// tiles' lanes (bench/bench_sgemm, figures in docs/performance-log.md: faster there, slower on wide
// products). A rule on the shape alone, not the machine: the two add in different orders, and
// the training's bits must be the same on every CPU.
bool dw_as_dot_products(int64_t out_c, int64_t k) { return std::min(out_c, k) <= 32; }

}  // namespace

kernels::ConvShape conv_shape(const Layer& l, const Shape& in, const Shape& out) {
  return {in[1],
          in[2],
          in[3],
          out[1],
          out[2],
          out[3],
          l.conv.kernel_h,
          l.conv.kernel_w,
          l.conv.stride_h,
          l.conv.stride_w,
          l.conv.pad_h,
          l.conv.pad_w,
          1};
}

void conv_forward(const OpPass& op, const std::vector<float>& in, std::vector<float>& out,
                  bool relu) {
  const Layer& l = op.l;
  const int64_t n = op.n;
  Worker& w = op.w;
  // One GEMM for the shard: Y [out_c x n*HW] = W x cols [K x n*HW], Y being the output's
  // layout; a 1x1 convolution's cols is its input.
  const kernels::ConvShape s = conv_shape(l, op.is, op.os);
  const int64_t k = s.k_per_group(), hw = s.out_size(), wide = n * hw;
  const float* cols = in.data();
  if (!kernels::conv_reads_input_directly(s)) {
    std::vector<float>& c = w.cols[op.li];
    c.resize(static_cast<size_t>(k * wide));
    const int64_t in_plane = s.in_h * s.in_w;
    if (kernels::conv_keeps_size(s))
      kernels::im2col_same_batch(s, in.data(), n, c.data(), 0, k, wide);
    else
      for (int64_t b = 0; b < n; ++b)  // image b's columns, at b * hw of each row
        kernels::im2col_strided(s, in.data() + b * in_plane, n * in_plane, c.data() + b * hw, 0,
                                k, 0, hw, wide);
    cols = c.data();
  }
  kernels::sgemm(s.out_c, wide, k, {l.weight.data.data(), k}, {cols, wide}, out.data(), wide,
                 &w.gemm);
  add_bias(out.data(), s.out_c, wide, l.conv.has_bias ? l.bias.data.data() : nullptr, relu);
}

void conv_backward(const OpPass& op, const std::vector<float>& dy, const float* relu_out,
                   const GradOf& grad_of) {
  const Layer& l = op.l;
  const int64_t n = op.n;
  const size_t li = op.li;
  Worker& w = op.w;
  // dW = dY x cols^T and dcols = W^T x dY over the shard at once (dY as [M x n*HW]).
  const kernels::ConvShape s = conv_shape(l, op.is, op.os);
  const int64_t k = s.k_per_group(), hw = s.out_size(), wide = n * hw;
  const bool direct = kernels::conv_reads_input_directly(s);
  const float* dyw = dy.data();
  if (relu_out) {  // through the fused ReLU: gradient only where its output is positive
    grow(w.tmp2, static_cast<size_t>(s.out_c * wide));
    relu_backward_set(relu_out, dy.data(), s.out_c * wide, w.tmp2.data());
    dyw = w.tmp2.data();
  }
  std::vector<float>& gw = w.grad_w[li];
  std::vector<float>& gb = w.grad_b[li];
  gw.resize(l.weight.data.size());  // both written whole below
  gb.resize(l.bias.data.size());
  // dY and cols both run along the pixels (dW = dY x cols^T)
  const float* cols = direct ? w.act.at(l.inputs[0]).data() : w.cols.at(li).data();
  if (dw_as_dot_products(s.out_c, k))
    kernels::sgemm_nt(s.out_c, k, wide, dyw, wide, cols, wide, gw.data(), k, &w.gemm);
  else
    kernels::sgemm(s.out_c, k, wide, {dyw, wide}, {cols, wide, true}, gw.data(), k, &w.gemm);
  if (l.conv.has_bias)
    for (int64_t c = 0; c < s.out_c; ++c)
      gb[c] = static_cast<float>(sum_lanes(dyw + c * wide, wide));
  if (l.inputs[0] == op.model_input) return;
  const GradOut dx = grad_of(l.inputs[0]);
  const kernels::GemmOperand wt{l.weight.data.data(), k, true};
  if (direct && dx.fresh) {  // col2im is the identity: set dx
    kernels::sgemm(k, wide, s.out_c, wt, {dyw, wide}, dx.g.data(), wide, &w.gemm);
    return;
  }
  std::vector<float>& dcol = w.tmp3;
  grow(dcol, static_cast<size_t>(k * wide));
  kernels::sgemm(k, wide, s.out_c, wt, {dyw, wide}, dcol.data(), wide, &w.gemm);
  std::vector<float>& sum = zeroed(dx);
  if (direct) {
    add_floats(dcol.data(), k * wide, sum.data());
    return;
  }
  if (kernels::conv_keeps_size(s)) {
    col2im_same_batch_add(s, dcol.data(), n, wide, sum.data());
    return;
  }
  const int64_t in_plane = s.in_h * s.in_w;
  for (int64_t b = 0; b < n; ++b)
    col2im_add(s, dcol.data() + b * hw, wide, n * in_plane, sum.data() + b * in_plane);
}

}  // namespace sqz::train
