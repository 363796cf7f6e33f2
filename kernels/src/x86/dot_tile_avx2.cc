// Compiled with this ISA's flags only (see CMakeLists.txt).
#define SQZ_VEC_FLOATS 8
#define SQZ_DOT_ROWS 3
#define SQZ_DOT_COLS 2
#define SQZ_DOT_FN sqz_dot_3x2_f32_avx2
#include "dot_tile.inc"
