// Simple loops that the compiler vectorizes are built for AVX-512, AVX2 and baseline x86-64
// (GCC function multiversioning: the loader picks the clone the CPU runs), so they need no
// hand-written ISA variants. Kernels with register tiling are dispatched by hand instead.
#pragma once

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define SQZ_CPU_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define SQZ_CPU_CLONES
#endif

// Keeps GCC from turning a loop into a memset or memcpy call (its loop distribution); for
// short segments the inline loop costs less than the call. Clang has no per-function form.
#if defined(__GNUC__) && !defined(__clang__)
#define SQZ_INLINE_LOOPS __attribute__((optimize("no-tree-loop-distribute-patterns")))
#else
#define SQZ_INLINE_LOOPS
#endif
