// Pooling kernels (Caffe semantics, pooling_layer.cpp), CHW float32, one image.
#pragma once

#include <cstdint>
#include <vector>

#include "sqz/kernels/conv_shape.h"
#include "sqz/kernels/machine.h"

namespace sqz::kernels {

// Max over each window clipped to the image. REQUIRES: every window overlaps the image.
void maxpool2d_f32(const PoolShape& s, const float* in, float* out);
// The same with planes in_plane (>= in_h * in_w) and out_plane (>= out_h * out_w) floats
// apart: pools a band of rows held in a buffer (a convolution's rows, still in cache) into its
// place in a larger output.
void maxpool2d_f32(const PoolShape& s, const float* in, int64_t in_plane, float* out,
                   int64_t out_plane);
// Average over each window; the divisor counts padded positions inside [-pad, size+pad+extra)
// when average_counts_padding (Caffe), else only image positions (ONNX default).
void avgpool2d_f32(const PoolShape& s, const float* in, float* out);
// Mean of each channel: out[c] = mean(in[c][*]).
void global_avgpool_f32(int64_t c, int64_t hw, const float* in, float* out);
void global_maxpool_f32(int64_t c, int64_t hw, const float* in, float* out);
// Max pooling that also records each window's winner, for a backward pass: arg[i] is the index
// in its plane (y * in_w + x) of the window's first largest value in row-major order (the
// largest, ties to the smallest index). A window with nothing above -inf (empty, or only -inf
// and NaN: NaN never wins) gets arg -1 and out 0. Windows are clipped to the image (ph, pw
// pad the start; the end needs no pad). REQUIRES in_h * in_w < 2^31.
void maxpool2d_argmax_f32(const PoolShape& s, const float* in, float* out, int32_t* arg);
// The same through the paths of `isa` at most (and of the CPU's): the AVX-512 one for 3-wide,
// stride-2 windows, else SSE2's. Every path gives the same winners (tests compare each).
void maxpool2d_argmax_f32(const PoolShape& s, const float* in, float* out, int32_t* arg, Isa isa);

// The hand-written 3x3 / stride-2 max pooling that maxpool2d_f32 calls for windows wholly
// inside the image under each ISA: for each of `channels` planes, out[oy][ox] = max of rows
// 2oy..2oy+2, columns 2ox..2ox+2. REQUIRES 2 * out_w + 1 <= in_w, 2 * out_h + 1 <= in_h rows,
// out_w >= min_out_w.
using MaxPool3x3s2Fn = void (*)(const float* in, int64_t in_plane, int64_t in_w, int64_t channels,
                                int64_t out_h, int64_t out_w, float* out, int64_t out_plane);
struct MaxPool3x3s2Kernel {
  const char* name;
  MaxPool3x3s2Fn fn;
  int64_t min_out_w;
  Isa isa;
};
// Every such kernel this CPU runs, widest first (for tests and benchmarks).
std::vector<MaxPool3x3s2Kernel> runnable_maxpool_3x3s2_kernels();

namespace ref {
// Naive twin of maxpool2d_f32.
void maxpool2d_f32(const PoolShape& s, const float* in, float* out);
// Naive twin of maxpool2d_argmax_f32: each window in row-major order, strict >.
void maxpool2d_argmax_f32(const PoolShape& s, const float* in, float* out, int32_t* arg);
}  // namespace ref

}  // namespace sqz::kernels
