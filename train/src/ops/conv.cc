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
// col: K rows of one image's out_h*out_w gradients, row stride ld.
SQZ_CPU_CLONES void col2im_add(const kernels::ConvShape& s, const float* col, int64_t ld,
                               float* dx) {
  const int64_t taps = s.kh * s.kw, n = ld;
  for (int64_t row = 0; row < s.in_c * taps; ++row) {
    const int64_t c = row / taps, i = row % taps / s.kw, j = row % s.kw;
    float* plane = dx + c * s.in_h * s.in_w;
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

// Scratch of at least n floats whose contents are not kept: grown only, since a vector shrunk
// and grown again zero-fills what it regains (the layers' sizes alternate in every step).
void grow(std::vector<float>& v, size_t n) {
  if (v.size() < n) v.resize(n);
}

// Adds x[0..n) into 8 interleaved partial sums, x[j] into lane (first + j) mod 8, so the loop
// vectorizes: a sequence summed in pieces lands in the same lanes, in the same order.
SQZ_CPU_CLONES void add_lanes(const float* __restrict x, int64_t n, int64_t first,
                              double* __restrict lane) {
  int64_t j = 0;
  for (; j < n && (first + j) % 8 != 0; ++j) lane[(first + j) % 8] += x[j];
  for (; j + 8 <= n; j += 8)
    for (int i = 0; i < 8; ++i) lane[i] += x[j + i];
  for (; j < n; ++j) lane[(first + j) % 8] += x[j];
}

double lanes_total(const double* lane) {
  return ((lane[0] + lane[4]) + (lane[1] + lane[5])) + ((lane[2] + lane[6]) + (lane[3] + lane[7]));
}

// The sum in double of images x pieces of hw floats each, image b's at x + b * stride, as one
// sequence of images * hw (add_lanes): deterministic for a given length, whatever the ISA
// or the layout.
double sum_lanes(const float* x, int64_t images, int64_t hw, int64_t stride) {
  double lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (int64_t b = 0; b < images; ++b) add_lanes(x + b * stride, hw, b * hw, lane);
  return lanes_total(lane);
}

// out (n images of out_c planes of hw, image stride image) = y ([out_c x n*hw]) + bias, through
// the ReLU when relu.
SQZ_CPU_CLONES void scatter_outputs(const float* y, int64_t out_c, int64_t n, int64_t hw,
                                    int64_t image, const float* bias, bool relu, float* out) {
  for (int64_t c = 0; c < out_c; ++c) {
    const float add = bias ? bias[c] : 0.0f;
    for (int64_t b = 0; b < n; ++b) {
      const float* src = y + c * n * hw + b * hw;
      float* dst = out + b * image + c * hw;
      if (relu)
        for (int64_t p = 0; p < hw; ++p) dst[p] = std::max(src[p] + add, 0.0f);
      else
        for (int64_t p = 0; p < hw; ++p) dst[p] = src[p] + add;
    }
  }
}

// A 1x1 convolution with stride 1 and no padding reads each image's planes as its im2col, so
// it runs one GEMM per image on the activations in place: no column matrix, and the gradients
// land in the images' own layout. The products are those of the batched form bit for bit
// (sgemm's accumulate continues a sum where the previous image's ended).
void pointwise_forward(const OpPass& op, const kernels::ConvShape& s, const float* in,
                       float* out, bool relu) {
  const int64_t hw = s.out_size(), image_in = per_image(op.is), image_out = per_image(op.os);
  const float* bias = op.l.conv.has_bias ? op.l.bias.data.data() : nullptr;
  for (int64_t b = 0; b < op.n; ++b) {
    float* y = out + b * image_out;
    kernels::sgemm(s.out_c, hw, s.in_c, {op.l.weight.data.data(), s.in_c},
                   {in + b * image_in, hw}, y, hw, &op.w.gemm);
    scatter_outputs(y, s.out_c, 1, hw, image_out, bias, relu, y);
  }
}

void pointwise_backward(const OpPass& op, const kernels::ConvShape& s, const float* dy,
                        const GradOf& grad_of) {
  const Layer& l = op.l;
  Worker& w = op.w;
  const int64_t hw = s.out_size(), image_in = per_image(op.is), image_out = per_image(op.os);
  const float* x = w.act.at(l.inputs[0]).data();
  std::vector<float>& gw = w.grad_w[op.li];
  for (int64_t b = 0; b < op.n; ++b)  // dW = sum over images of dY_b x X_b^T
    kernels::sgemm(s.out_c, s.in_c, hw, {dy + b * image_out, hw}, {x + b * image_in, hw, true},
                   gw.data(), s.in_c, &w.gemm, kernels::best_gemm_kernel(), 0, b > 0);
  if (l.conv.has_bias)
    for (int64_t c = 0; c < s.out_c; ++c)
      w.grad_b[op.li][c] = static_cast<float>(sum_lanes(dy + c * hw, op.n, hw, image_out));
  if (l.inputs[0] == op.model_input) return;
  const GradOut dx = grad_of(l.inputs[0]);
  const kernels::GemmOperand wt{l.weight.data.data(), s.in_c, true};
  if (dx.fresh) {  // dX_b = W^T x dY_b, set
    for (int64_t b = 0; b < op.n; ++b)
      kernels::sgemm(s.in_c, hw, s.out_c, wt, {dy + b * image_out, hw}, dx.g.data() + b * image_in,
                     hw, &w.gemm);
    return;
  }
  std::vector<float>& part = w.tmp3;  // added onto the other reader's gradient
  grow(part, static_cast<size_t>(image_in));
  for (int64_t b = 0; b < op.n; ++b) {
    kernels::sgemm(s.in_c, hw, s.out_c, wt, {dy + b * image_out, hw}, part.data(), hw, &w.gemm);
    float* sum = dx.g.data() + b * image_in;
    for (int64_t i = 0; i < image_in; ++i) sum[i] += part[i];
  }
}

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
  const Shape &is = op.is, &os = op.os;
  const int64_t n = op.n;
  Worker& w = op.w;
  // One GEMM for the whole shard: cols = [K x (n * HW)], Y = W x cols.
  const kernels::ConvShape s = conv_shape(l, is, os);
  if (kernels::conv_reads_input_directly(s)) return pointwise_forward(op, s, in.data(), out.data(), relu);
  const int64_t k = s.k_per_group(), hw = s.out_size(), wide = n * hw;
  std::vector<float>& cols = w.cols[op.li];
  cols.resize(static_cast<size_t>(k * wide));
  for (int64_t b = 0; b < n; ++b)  // image b's columns, at b * hw of each row
    kernels::im2col(s, in.data() + b * per_image(is), cols.data() + b * hw, 0, k, 0, hw, wide);
  std::vector<float>& y = w.tmp2;
  grow(y, static_cast<size_t>(s.out_c * wide));
  kernels::sgemm(s.out_c, wide, k, {l.weight.data.data(), k}, {cols.data(), wide}, y.data(), wide,
                 &w.gemm);
  scatter_outputs(y.data(), s.out_c, n, hw, per_image(os),
                  l.conv.has_bias ? l.bias.data.data() : nullptr, relu, out.data());
}

void conv_backward(const OpPass& op, const std::vector<float>& dy, const float* relu_out,
                   const GradOf& grad_of) {
  const Layer& l = op.l;
  const Shape &is = op.is, &os = op.os;
  const int64_t n = op.n;
  const size_t li = op.li;
  Worker& w = op.w;
  // dW = dY x cols^T and dcols = W^T x dY over the shard at once (dY as [M x n*HW]).
  const kernels::ConvShape s = conv_shape(l, is, os);
  const int64_t k = s.k_per_group(), hw = s.out_size(), wide = n * hw;
  std::vector<float>& dyw = w.tmp2;
  grow(dyw, static_cast<size_t>(s.out_c * wide));
  std::vector<float>& gw = w.grad_w[li];
  std::vector<float>& gb = w.grad_b[li];
  gw.resize(l.weight.data.size());  // both written whole below
  gb.resize(l.bias.data.size());
  if (kernels::conv_reads_input_directly(s)) {
    if (!relu_out) return pointwise_backward(op, s, dy.data(), grad_of);
    // Through the fused ReLU: gradient only where its output is positive.
    relu_backward_set(relu_out, dy.data(), n * per_image(os), dyw.data());
    return pointwise_backward(op, s, dyw.data(), grad_of);
  }
  for (int64_t b = 0; b < n; ++b)
    for (int64_t c = 0; c < s.out_c; ++c) {
      const int64_t from = b * per_image(os) + c * hw;
      if (relu_out)  // through the fused ReLU: gradient only where its output is positive
        relu_backward_set(relu_out + from, dy.data() + from, hw, dyw.data() + c * wide + b * hw);
      else
        std::copy(dy.begin() + from, dy.begin() + from + hw, dyw.begin() + c * wide + b * hw);
    }
  const std::vector<float>& cols = w.cols.at(li);  // B = cols^T, read along cols' rows
  kernels::sgemm(s.out_c, k, wide, {dyw.data(), wide}, {cols.data(), wide, true}, gw.data(), k,
                 &w.gemm);
  if (l.conv.has_bias)
    for (int64_t c = 0; c < s.out_c; ++c)
      gb[c] = static_cast<float>(sum_lanes(dyw.data() + c * wide, 1, wide, wide));
  if (l.inputs[0] == op.model_input) return;
  const GradOut dx = grad_of(l.inputs[0]);
  std::vector<float>& dcol = w.tmp3;
  grow(dcol, static_cast<size_t>(k * wide));
  kernels::sgemm(k, wide, s.out_c, {l.weight.data.data(), k, true}, {dyw.data(), wide}, dcol.data(),
                 wide, &w.gemm);
  std::vector<float>& sum = zeroed(dx);
  for (int64_t b = 0; b < n; ++b)
    col2im_add(s, dcol.data() + b * hw, wide, sum.data() + b * per_image(is));
}

}  // namespace sqz::train
