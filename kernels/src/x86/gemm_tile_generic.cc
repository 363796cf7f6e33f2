// Compiled with this ISA's flags only (see CMakeLists.txt).
#define SQZ_VEC_FLOATS 4
#define SQZ_TILE_FN sqz_gemm_6x8_f32_generic
#define SQZ_TILE_ACC_FN sqz_gemm_acc_6x8_f32_generic
#define SQZ_DIRECT_FN sqz_direct_6x8_f32_generic
#define SQZ_DIRECT_ROWS 6
#define SQZ_DIRECT_VECS 2
#include "gemm_tile.inc"
