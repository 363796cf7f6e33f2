// Simple loops that the compiler vectorizes are built for AVX-512, AVX2 and baseline x86-64
// (GCC function multiversioning: the loader picks the clone the CPU runs), so they need no
// hand-written ISA variants. Kernels with register tiling are dispatched by hand instead.
#pragma once

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define SQZ_CPU_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define SQZ_CPU_CLONES
#endif
