// Sizes of a model in the stage layouts of Deep Compression (Han et al. 2016), for the
// paper-style tables: dense float32; pruned in the paper's sparse layout (Sec. 2: values plus
// 4-bit relative indices, a filler entry for every gap longer than 16); pruned + quantized in
// that layout with b-bit codes instead of float32 values (Sec. 3), no entropy coding.
#pragma once

#include <cstdint>

#include "sqz/core/graph.h"

namespace sqz::format {

// All convolution weights and biases as float32.
int64_t dense_float32_bytes(const Model& model);

// The paper's relative-index layout: per convolution, one entry per stored weight plus a
// filler per 16 skipped positions, each entry a value (float32, or the layer's code bits
// when quantized and `quantized` is set) and a 4-bit index; float32 codebooks and biases.
int64_t relative_index_bytes(const Model& model, bool quantized);

}  // namespace sqz::format
