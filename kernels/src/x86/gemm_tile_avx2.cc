// Compiled with this ISA's flags only (see CMakeLists.txt).
#define SQZ_VEC_FLOATS 8
#define SQZ_TILE_FN sqz_gemm_6x16_f32_avx2
#define SQZ_TILE_ACC_FN sqz_gemm_acc_6x16_f32_avx2
#define SQZ_DIRECT_FN sqz_direct_6x16_f32_avx2
#define SQZ_DIRECT_ROWS 6
#define SQZ_DIRECT_VECS 2
#include "gemm_tile.inc"
