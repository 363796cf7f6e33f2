// Element-wise sums over float arrays (an ONNX Add, Caffe's Eltwise SUM), vectorized for the
// CPU's widest ISA. Each output is one IEEE addition, so the results are the same bits on
// every ISA and in either operand order.
#pragma once

#include <cstdint>

namespace sqz::kernels {

// dst[i] = a[i] + b[i] for i < n; dst may be a or b.
void add_f32(int64_t n, const float* a, const float* b, float* dst);
// dst[i] += src[i] for i < n.
void accumulate_f32(int64_t n, const float* src, float* dst);

}  // namespace sqz::kernels
