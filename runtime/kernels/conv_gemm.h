// Dense convolution through the GEMM micro-kernels (gemm.h). Weights are packed once at
// construction. The GEMM's B matrix is the input itself for 1x1/stride-1/no-pad layers and
// an im2col matrix [groups][K][N] otherwise; full column panels are read in place (row
// stride N), only the last partial panel is copied, zero-padded, into scratch.
#pragma once

#include <vector>

#include "conv_shape.h"
#include "gemm.h"

namespace sqz::rt {

class ConvGemm {
 public:
  // weight: OIHW, bias: out_c values or null. The kernel must outlive this object.
  ConvGemm(const ConvShape& s, const float* weight, const float* bias, bool relu,
           const GemmKernel& kernel);

  // True when B is the input itself; otherwise call im2col_rows first.
  bool direct() const { return direct_; }
  // im2col rows (over all groups): groups * K.
  int64_t im2col_rows() const { return s_.groups * s_.k_per_group(); }
  // Floats of the im2col buffer for one image (0 when direct).
  int64_t im2col_floats() const { return direct_ ? 0 : im2col_rows() * s_.out_size(); }
  // Fills im2col rows [begin, end) of one CHW image into col (im2col_floats() floats).
  void im2col(const float* in, float* col, int64_t begin, int64_t end) const;

  // Work items: (group, column panel) pairs, independent of each other.
  int64_t work_items() const { return s_.groups * panels_; }
  // Floats of scratch one run_items call needs.
  int64_t scratch_floats() const { return s_.k_per_group() * kernel_->nr; }
  // Computes work items [begin, end) of one image. b: the input (direct) or the filled
  // im2col buffer; out: CHW with channel stride out_h*out_w; scratch: scratch_floats().
  void run_items(const float* b, float* out, int64_t begin, int64_t end, float* scratch) const;

  const GemmKernel& kernel() const { return *kernel_; }

 private:
  ConvShape s_;
  const GemmKernel* kernel_;
  bool relu_;
  bool direct_;
  int64_t panels_;
  std::vector<float> a_packed_;  // per group: ceil(ocg/MR) panels of [K][MR]
  std::vector<float> bias_;      // out_c values, zero-padded to whole MR panels per group
};

}  // namespace sqz::rt
