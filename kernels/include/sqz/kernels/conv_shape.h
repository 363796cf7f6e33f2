// Geometry of one 2-D convolution or pooling call on one image (CHW, float32).
#pragma once

#include <cstdint>

namespace sqz::kernels {

struct ConvShape {
  int64_t in_c, in_h, in_w;
  int64_t out_c, out_h, out_w;
  int64_t kh, kw, sh, sw, ph, pw;
  int64_t groups;
  // Elements per row of the GEMM's B matrix = (in_c / groups) * kh * kw.
  int64_t k_per_group() const { return in_c / groups * kh * kw; }
  int64_t out_size() const { return out_h * out_w; }
};

struct PoolShape {
  int64_t c, in_h, in_w, out_h, out_w;
  int64_t kh, kw, sh, sw, ph, pw;
  bool average_counts_padding;  // see sqz::PoolParams
  int64_t eh = 0, ew = 0;       // end pads beyond ph, pw (asymmetric padding)
};

}  // namespace sqz::kernels
