#include "sqz/kernels/ref/conv_ref.h"

namespace sqz::kernels::ref {

void conv2d_f32(const ConvShape& s, const float* in, const float* weight, const float* bias,
                bool relu, float* out) {
  const int64_t icg = s.in_c / s.groups, ocg = s.out_c / s.groups;
  for (int64_t oc = 0; oc < s.out_c; ++oc) {
    const int64_t g = oc / ocg;
    for (int64_t oy = 0; oy < s.out_h; ++oy) {
      for (int64_t ox = 0; ox < s.out_w; ++ox) {
        double acc = bias ? bias[oc] : 0.0;
        for (int64_t ic = 0; ic < icg; ++ic) {
          for (int64_t i = 0; i < s.kh; ++i) {
            for (int64_t j = 0; j < s.kw; ++j) {
              const int64_t iy = oy * s.sh - s.ph + i, ix = ox * s.sw - s.pw + j;
              if (iy < 0 || iy >= s.in_h || ix < 0 || ix >= s.in_w) continue;
              acc += double{in[((g * icg + ic) * s.in_h + iy) * s.in_w + ix]} *
                     weight[((oc * icg + ic) * s.kh + i) * s.kw + j];
            }
          }
        }
        if (relu && acc < 0) acc = 0;
        out[(oc * s.out_h + oy) * s.out_w + ox] = static_cast<float>(acc);
      }
    }
  }
}

}  // namespace sqz::kernels::ref
