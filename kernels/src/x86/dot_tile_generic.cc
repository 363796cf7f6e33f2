// Compiled with this ISA's flags only (see CMakeLists.txt).
#define SQZ_VEC_FLOATS 4
#define SQZ_DOT_ROWS 1
#define SQZ_DOT_COLS 3
#define SQZ_DOT_FN sqz_dot_1x3_f32_generic
#include "dot_tile.inc"
