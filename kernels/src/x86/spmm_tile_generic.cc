// Compiled with this ISA's flags only (see CMakeLists.txt).
#define SQZ_VEC_FLOATS 4
#define SQZ_SPMM_VECS 4
#define SQZ_SPMM_F32_FN sqz_spmm_16_f32_generic
#define SQZ_SPMM_BLOCKS_FN sqz_spmm_blocks_16_f32_generic
#include "spmm_tile.inc"
