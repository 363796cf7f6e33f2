// The training engine's ops: each op's forward and backward pass beside each other, one file
// per op (as ncnn keeps one layer per file). Internal to sqz_train.
//
// Contracts shared by every op: a shard of n images is held channel-major, [C][n][H*W] (each
// channel's planes of the n images together; a 2-D blob [n, F] as [F][n]), so that a
// convolution's GEMM output is its output blob and a 1x1 convolution's input is its GEMM
// operand, with no copies between the two layouts (the engine converts at the model's input
// and logits only). Forward writes the whole of `out` (sized by the caller); backward adds its
// input gradients into the vectors grad_of returns (zeroed and sized by it), never into the
// network's input.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "sqz/core/graph.h"
#include "sqz/kernels/conv_shape.h"

namespace sqz::train {

// Per-thread activations, gradients and what backward needs from forward.
struct Worker {
  std::map<std::string, std::vector<float>> act, grad;
  std::map<size_t, std::vector<float>> cols;          // conv layer -> K x n*HW (none for 1x1)
  std::map<size_t, std::vector<int32_t>> argmax;      // max pool layer -> output -> input index
  std::map<size_t, std::vector<float>> dropout_mask;  // dropout layer -> scale per element
  std::map<size_t, std::vector<float>> grad_w, grad_b;
  std::vector<float> tmp2, tmp3, gemm;  // scratch
};

// One layer's pass over a shard.
struct OpPass {
  const Layer& l;
  size_t li;        // the layer's index in the model
  const Shape& is;  // its first input's shape (batch 1)
  const Shape& os;  // its output's shape (batch 1)
  int64_t n;        // images in the shard
  Worker& w;
  const std::map<std::string, Shape>& shapes;  // every blob's shape (batch 1)
  const std::string& model_input;              // the blob no gradient flows into
};

// A blob's gradient for an op to write into, sized for the shard. fresh: nothing has been
// written into it in this backward pass, and its contents are stale (not zero): the op sets
// it whole, or adds into zeroed(...): a blob whose first writer sets it is never zero-filled.
struct GradOut {
  std::vector<float>& g;
  bool fresh;
};
using GradOf = std::function<GradOut(const std::string& blob)>;

// The gradient to add into: zero-filled when fresh.
inline std::vector<float>& zeroed(GradOut out) {
  if (out.fresh) std::fill(out.g.begin(), out.g.end(), 0.0f);
  return out.g;
}

inline int64_t per_image(const Shape& s) { return shape_numel(s) / s[0]; }
// A blob's channels (its features, when 2-D): C of [n][C][H*W] in the order above.
inline int64_t channels(const Shape& s) { return s.size() >= 2 ? s[1] : 1; }

// n images of c channels of hw floats each: image-major (NCHW) to channel-major, and back.
void to_channel_major(const float* __restrict nchw, int64_t n, int64_t c, int64_t hw,
                      float* __restrict out);
void to_image_major(const float* __restrict cnhw, int64_t n, int64_t c, int64_t hw,
                    float* __restrict out);

// dst += src (restrict pointers: the vectors live in one map).
inline void add_floats(const float* __restrict src, int64_t n, float* __restrict dst) {
  for (int64_t k = 0; k < n; ++k) dst[k] += src[k];
}

// Convolution (groups 1) as one GEMM over the shard's im2col; relu: apply the ReLU that alone
// reads the output (forward writes the ReLU's output; backward gets it as relu_out).
void conv_forward(const OpPass& op, const std::vector<float>& in, std::vector<float>& out,
                  bool relu);
void conv_backward(const OpPass& op, const std::vector<float>& dy, const float* relu_out,
                   const GradOf& grad_of);
// The layer's convolution as the kernels see it (in: is, out: os).
kernels::ConvShape conv_shape(const Layer& l, const Shape& is, const Shape& os);

void relu_forward(const std::vector<float>& in, std::vector<float>& out);
// dx = dy where the ReLU's output y is positive, else 0.
void relu_backward_set(const float* __restrict y, const float* __restrict dy, int64_t n,
                       float* __restrict dx);
void relu_backward(const OpPass& op, const std::vector<float>& dy, const GradOf& grad_of);

// rate 0 (or inference): the identity. seed: this layer's and step's mask stream.
void dropout_forward(const OpPass& op, const std::vector<float>& in, std::vector<float>& out,
                     double rate, uint64_t seed);
void dropout_backward(const OpPass& op, const std::vector<float>& dy, const GradOf& grad_of);

void flatten_forward(const OpPass& op, const std::vector<float>& in, std::vector<float>& out);
void flatten_backward(const OpPass& op, const std::vector<float>& dy, const GradOf& grad_of);

void max_pool_forward(const OpPass& op, const std::vector<float>& in, std::vector<float>& out);
void max_pool_backward(const OpPass& op, const std::vector<float>& dy, const GradOf& grad_of);

// Global average pooling only.
void avg_pool_forward(const OpPass& op, const std::vector<float>& in, std::vector<float>& out);
void avg_pool_backward(const OpPass& op, const std::vector<float>& dy, const GradOf& grad_of);

void add_forward(const OpPass& op, const std::vector<float>& in, std::vector<float>& out);
void add_backward(const OpPass& op, const std::vector<float>& dy, const GradOf& grad_of);

// Channel concat only.
void concat_forward(const OpPass& op, std::vector<float>& out);
void concat_backward(const OpPass& op, const std::vector<float>& dy, const GradOf& grad_of);

// Channel softmax only.
void softmax_forward(const OpPass& op, const std::vector<float>& in, std::vector<float>& out);
void softmax_backward(const OpPass& op, const std::vector<float>& dy, const GradOf& grad_of);

}  // namespace sqz::train
