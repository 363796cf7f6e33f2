// Compiled with this ISA's flags only (see CMakeLists.txt).
#define SQZ_VEC_FLOATS 16
#define SQZ_GEMM_VECS 4
#define SQZ_TILE_FN sqz_gemm_6x64_f32_avx512
#define SQZ_TILE_ACC_FN sqz_gemm_acc_6x64_f32_avx512
#define SQZ_DIRECT_FN sqz_direct_8x3x16_f32_avx512
#define SQZ_DIRECT_ROWS 8
#define SQZ_DIRECT_HEIGHT 3
#define SQZ_DIRECT_VECS 1
#include "gemm_tile.inc"
