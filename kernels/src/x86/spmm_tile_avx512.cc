// Compiled with this ISA's flags only (see CMakeLists.txt).
#define SQZ_VEC_FLOATS 16
#define SQZ_SPMM_VECS 4
#define SQZ_SPMM_F32_FN sqz_spmm_64_f32_avx512
#define SQZ_SPMM_BLOCKS_FN sqz_spmm_blocks_64_f32_avx512
#define SQZ_SPMM_PAIRS_FN sqz_spmm_pairs_64_f32_avx512
#include "spmm_tile.inc"
