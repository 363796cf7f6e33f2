// Compiled with this ISA's flags only (see CMakeLists.txt).
#define SQZ_VEC_FLOATS 16
#define SQZ_DOT_ROWS 4
#define SQZ_DOT_COLS 6
#define SQZ_DOT_FN sqz_dot_4x6_f32_avx512
#include "dot_tile.inc"
