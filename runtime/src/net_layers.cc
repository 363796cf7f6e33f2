// The layers other than convolutions: pooling, concatenation (when it cannot alias), ReLU
// (when not fused), softmax and the element-wise sum.
#include <algorithm>
#include <cstring>
#include <vector>

#include "sqz/kernels/eltwise.h"
#include "sqz/kernels/pool.h"
#include "sqz/kernels/softmax.h"
#include "net_impl.h"

namespace sqz::runtime {

void Net::Impl::run_pool(const Layer& l) {
  const Shape& in = shapes.at(l.inputs[0]);
  const Shape& out = shapes.at(l.output);
  for (int64_t b = 0; b < batch; ++b) {
    const float* src = blob_ptr(l.inputs[0], b);
    float* dst = blob_ptr(l.output, b);
    if (l.pool.global) {
      // Channels over the threads: the layer before left its output in both cores' caches, and
      // a thread reads the other's slowly (v1.0's conv_final output, 0.9 MB, on 2 threads of a
      // Xeon: 0.038 ms read by one, 0.013 split; bench -v). Each channel's sum is the same.
      const auto reduce =
          l.op == OpKind::kMaxPool ? kernels::global_maxpool_f32 : kernels::global_avgpool_f32;
      const int64_t hw = in[2] * in[3];
      pool->parallel_for(in[1], [&](int64_t begin, int64_t end, int) {
        reduce(end - begin, hw, src + begin * hw, dst + begin);
      });
      continue;
    }
    const kernels::PoolShape s = pool_shape(l, in, out);
    if (l.op == OpKind::kAvgPool) {
      kernels::avgpool2d_f32(s, src, dst);
      continue;
    }
    // Channels are independent: split them over the threads.
    const int64_t plane_in = s.in_h * s.in_w, plane_out = s.out_h * s.out_w;
    pool->parallel_for(s.c, [&](int64_t begin, int64_t end, int) {
      kernels::PoolShape part = s;
      part.c = end - begin;
      kernels::maxpool2d_f32(part, src + begin * plane_in, dst + begin * plane_out);
    });
  }
}

void Net::Impl::run_concat(const Layer& l) {
  const Shape& out = shapes.at(l.output);
  const std::vector<bool>& copy = concat_needs_copy.at(l.output);
  int64_t inner = 1;
  for (size_t d = static_cast<size_t>(l.axis) + 1; d < out.size(); ++d) inner *= out[d];
  const int64_t outer = per_image(out) / (out[static_cast<size_t>(l.axis)] * inner);
  for (int64_t b = 0; b < batch; ++b) {
    float* dst = blob_ptr(l.output, b);
    int64_t offset = 0;
    for (size_t k = 0; k < l.inputs.size(); ++k) {
      const int64_t len = shapes.at(l.inputs[k])[static_cast<size_t>(l.axis)] * inner;
      if (copy[k]) {
        const float* src = blob_ptr(l.inputs[k], b);
        for (int64_t o = 0; o < outer; ++o)
          std::memcpy(dst + o * per_image(out) / outer + offset, src + o * len,
                      sizeof(float) * len);
      }
      offset += len;
    }
  }
}

void Net::Impl::run_relu(const Layer& l) {
  const Shape& s = shapes.at(l.output);
  const int64_t n = per_image(s);
  for (int64_t b = 0; b < batch; ++b) {
    const float* src = blob_ptr(l.inputs[0], b);
    float* dst = blob_ptr(l.output, b);
    for (int64_t k = 0; k < n; ++k) dst[k] = src[k] > 0 ? src[k] : 0.0f;
  }
}

// Softmax along one axis (ONNX opset 13 semantics; axis 0, the batch, is refused at planning):
// per image, `outer` groups of `c` values `inner` apart.
void Net::Impl::run_softmax(const Layer& l) {
  const Shape& s = shapes.at(l.output);
  const auto rank = static_cast<int64_t>(s.size());
  const int64_t axis = l.axis < 0 ? l.axis + rank : l.axis;
  int64_t inner = 1;
  for (int64_t d = axis + 1; d < rank; ++d) inner *= s[static_cast<size_t>(d)];
  const int64_t c = s[static_cast<size_t>(axis)], outer = per_image(s) / (c * inner);
  for (int64_t b = 0; b < batch; ++b)
    kernels::softmax_f32(blob_ptr(l.inputs[0], b), outer, c, inner, blob_ptr(l.output, b));
}

// Element-wise sum of the inputs (the bypass of SqueezeNet Sec. 6), in input order, split
// over the threads. A two-input sum usually runs inside a convolution instead
// (net_add_fusion.cc).
void Net::Impl::run_add(const Layer& l) {
  const int64_t n = per_image(shapes.at(l.output));
  constexpr int64_t kPiece = 4096;  // floats a work item: 16 KB, a few microseconds
  const int64_t pieces = (n + kPiece - 1) / kPiece;
  std::vector<float*> dst(static_cast<size_t>(batch));
  std::vector<std::vector<const float*>> src(l.inputs.size(), std::vector<const float*>(dst.size()));
  for (int64_t b = 0; b < batch; ++b) {
    dst[b] = blob_ptr(l.output, b);
    for (size_t i = 0; i < l.inputs.size(); ++i) src[i][b] = blob_ptr(l.inputs[i], b);
  }
  pool->parallel_for(batch * pieces, [&](int64_t begin, int64_t end, int) {
    for (int64_t w = begin; w < end; ++w) {
      const int64_t b = w / pieces, k0 = w % pieces * kPiece, len = std::min(kPiece, n - k0);
      kernels::add_f32(len, src[0][b] + k0, src[1][b] + k0, dst[b] + k0);
      for (size_t i = 2; i < l.inputs.size(); ++i)
        kernels::accumulate_f32(len, src[i][b] + k0, dst[b] + k0);
    }
  });
}

}  // namespace sqz::runtime
