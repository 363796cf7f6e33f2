// Pooling kernels (Caffe semantics, pooling_layer.cpp), CHW float32, one image.
#pragma once

#include "sqz/kernels/conv_shape.h"

namespace sqz::kernels {

// Max over each window clipped to the image. REQUIRES: every window overlaps the image.
void maxpool2d_f32(const PoolShape& s, const float* in, float* out);
// Average over each window; the divisor counts padded positions inside [-pad, size+pad+extra)
// when average_counts_padding (Caffe), else only image positions (ONNX default).
void avgpool2d_f32(const PoolShape& s, const float* in, float* out);
// Mean of each channel: out[c] = mean(in[c][*]).
void global_avgpool_f32(int64_t c, int64_t hw, const float* in, float* out);
void global_maxpool_f32(int64_t c, int64_t hw, const float* in, float* out);

namespace ref {
// Naive twin of maxpool2d_f32.
void maxpool2d_f32(const PoolShape& s, const float* in, float* out);
}  // namespace ref

}  // namespace sqz::kernels
