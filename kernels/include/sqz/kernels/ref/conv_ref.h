// Naive reference kernels: the twins every optimized kernel is tested against. Keep them
// obviously correct, never fast.
#pragma once

#include "sqz/kernels/conv_shape.h"

namespace sqz::kernels::ref {

// out[oc][oy][ox] = bias[oc] + sum in[ic][oy*sh-ph+i][ox*sw-pw+j] * w[oc][ic'][i][j],
// zero padding; weights OIHW with I = in_c/groups; bias may be null; ReLU when relu.
// Accumulates in double.
void conv2d_f32(const ConvShape& s, const float* in, const float* weight, const float* bias,
                bool relu, float* out);

}  // namespace sqz::kernels::ref
