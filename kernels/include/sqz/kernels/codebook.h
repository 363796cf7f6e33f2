// Codebook decoding: Deep Compression's weight sharing (Han et al. 2016, Sec. 3) keeps a
// layer's weights as uint8 indices into a table of float32 centroids; the ops that keep them
// so (codes_only layers) write out the float32 values once per forward pass, into scratch the
// kernels then read.
#pragma once

#include <cstdint>

#include "sqz/kernels/machine.h"

namespace sqz::kernels {

// out[i] = book[codes[i]] for i in [0, n), through the widest path machine().isa allows:
// AVX-512 and AVX2 gathers (`bench/ab_builds.sh` on an Intel Xeon, Emerald Rapids: v1.1's
// pass 0.958 of the scalar loop's time, docs/performance-log.md), unless the CPU's gathers are slowed by a microcode mitigation (Machine::gathers_slowed).
// Every path copies the same bits. REQUIRES every code below the book's entries; out does not
// overlap codes or book.
void decode_codes(const uint8_t* codes, int64_t n, const float* book, float* out);
// The same through the path of `isa` at most (and of the CPU's), whatever gathers cost: for
// tests and benchmarks.
void decode_codes(const uint8_t* codes, int64_t n, const float* book, float* out, Isa isa);

namespace ref {
// Naive twin.
void decode_codes(const uint8_t* codes, int64_t n, const float* book, float* out);
}  // namespace ref

}  // namespace sqz::kernels
