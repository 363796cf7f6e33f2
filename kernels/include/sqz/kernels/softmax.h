// Softmax along one axis of a float32 tensor laid out as [outer, c, inner]: for every outer
// block and inner position, the c values `inner` apart are normalized (max-subtracted, summed
// in double). One definition for the runtime and the training engine.
#pragma once

#include <cstdint>

namespace sqz::kernels {

void softmax_f32(const float* x, int64_t outer, int64_t c, int64_t inner, float* y);

}  // namespace sqz::kernels
