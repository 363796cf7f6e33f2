// The direct convolution op: no im2col; the input padded and split by column phase once per
// image, then the direct tile over packed weights (conv_op.h, make_direct_conv).
#include <algorithm>
#include <cstring>

#include "conv_op_util.h"
#include "sqz/kernels/codebook.h"
#include "sqz/kernels/conv_op.h"
#include "sqz/kernels/im2col.h"

namespace sqz::kernels {
namespace {

using detail::copy_bias;
using detail::has_code;

class DirectConvOp : public ConvOp {
 public:
  DirectConvOp(const ConvShape& s, const ConvWeights& w, bool relu, const GemmKernel& kernel)
      : ConvOp(s, kernel.direct_width), kernel_(&kernel), relu_(relu) {
    const int rows = kernel.direct_rows;
    const int64_t k = s.k_per_group();
    panels_ = (s.out_c + rows - 1) / rows;
    padded_h_ = s.in_h + 2 * s.ph;
    // Only the phases some tap reads: all of them, or with a stride past the window, the
    // window's (so a hostile stride cannot inflate the arranged input).
    phases_ = std::min(s.sw, s.kw);
    // A row of a phase: the output columns' inputs for every tap (out_w + (kw - 1) / sw), and
    // a vector's worth more, so that the last columns' loads stay inside (zeros).
    phase_w_ = s.out_w + (s.kw - 1) / s.sw + kernel.direct_width;
    offsets_.resize(static_cast<size_t>(k));
    for (int64_t c = 0; c < s.in_c; ++c)
      for (int64_t i = 0; i < s.kh; ++i)
        for (int64_t j = 0; j < s.kw; ++j)
          offsets_[(c * s.kh + i) * s.kw + j] = static_cast<int32_t>(
              ((c * padded_h_ + i) * phases_ + j % s.sw) * phase_w_ + j / s.sw);
    std::vector<float> bias;
    copy_bias(w, s.out_c, &bias);
    bias_.assign(static_cast<size_t>(panels_ * rows), 0.0f);
    std::copy(bias.begin(), bias.end(), bias_.begin());
    const int64_t packed = panels_ * k * rows;
    codebook_ = w.codes != nullptr;
    if (codebook_) {
      book_.assign(w.codebook, w.codebook + w.codebook_size);
      book_.push_back(0.0f);  // slot codebook_size: the zeros
      codes_.assign(static_cast<size_t>(packed), static_cast<uint8_t>(w.codebook_size));
      int64_t code = 0;  // for_each_weight visits the weights in order
      for_each_weight([&](int64_t src, int64_t dst) {
        if (has_code(w, src)) codes_[dst] = w.codes[code++];
      });
    } else {
      a_.assign(static_cast<size_t>(packed), 0.0f);
      for_each_weight([&](int64_t src, int64_t dst) { a_[dst] = w.weight[src]; });
    }
  }

  std::string kernel_name() const override {
    return std::string(kernel_->direct_name) + (codebook_ ? " (codes)" : "");
  }
  int max_row_blocks() const override { return 1; }
  int64_t scratch_floats() const override { return 0; }
  bool prefers_unaligned_rows() const override { return true; }
  // Not called: the runtime runs a direct op through arrange_input and run_direct.
  void run_items(const float*, int64_t, int64_t, float*, int64_t, int, int64_t, int64_t, float*,
                 const float*) const override {}
  int64_t shared_floats() const override {
    return codebook_ ? static_cast<int64_t>(codes_.size()) : 0;
  }
  void prepare(float* shared, int64_t begin, int64_t end) const override {
    if (!codebook_) return;
    decode_codes(codes_.data() + begin, end - begin, book_.data(), shared + begin);
  }
  int64_t resident_bytes() const override {
    return static_cast<int64_t>(a_.size() * 4 + codes_.size() + book_.size() * 4 +
                                bias_.size() * 4 + offsets_.size() * 4);
  }

  int64_t arranged_floats() const override { return s_.in_c * padded_h_ * phases_ * phase_w_; }

  // Channel c, padded row y, phase q (< phases_) holds padded columns q, q + sw, q + 2 sw, ...
  // (zero in the padding and past the row).
  void arrange_input(const float* in, float* arranged, int64_t c0, int64_t c1) const override {
    const int64_t sw = s_.sw, pw = s_.pw;
    for (int64_t c = c0; c < c1; ++c)
      for (int64_t y = 0; y < padded_h_; ++y) {
        const int64_t iy = y - s_.ph;
        const bool inside = iy >= 0 && iy < s_.in_h;
        const float* src = in + (c * s_.in_h + iy) * s_.in_w;
        for (int64_t q = 0; q < phases_; ++q) {
          float* dst = arranged + ((c * padded_h_ + y) * phases_ + q) * phase_w_;
          // Columns x whose input column x * sw + q - pw lies inside [0, in_w).
          const int64_t lo = inside ? std::min(phase_w_, pw > q ? (pw - q + sw - 1) / sw : 0)
                                    : phase_w_;
          const int64_t hi =
              inside ? std::clamp((s_.in_w + pw - q + sw - 1) / sw, lo, phase_w_) : phase_w_;
          std::fill(dst, dst + lo, 0.0f);
          copy_strided(src + lo * sw + q - pw, sw, hi - lo, dst + lo);
          std::fill(dst + hi, dst + phase_w_, 0.0f);
        }
      }
  }

  int64_t direct_panels() const override { return panels_; }
  int64_t direct_panel_channels() const override { return kernel_->direct_rows; }
  int64_t direct_tile_rows() const override { return kernel_->direct_height; }

  void run_direct_rows(const float* arranged, int64_t panel, int64_t y0, int64_t y1, float* out,
                       int64_t plane, const float* shared) const override {
    const int rows = kernel_->direct_rows, width = kernel_->direct_width;
    const int64_t k = s_.k_per_group(), in_step = s_.sh * phases_ * phase_w_;
    const float* a = (codebook_ ? shared : a_.data()) + panel * k * rows;
    const int live = static_cast<int>(std::min<int64_t>(rows, s_.out_c - panel * rows));
    for (int64_t oy = y0; oy < y1; oy += kernel_->direct_height) {
      const int height = static_cast<int>(std::min<int64_t>(kernel_->direct_height, y1 - oy));
      const float* row = arranged + oy * in_step;
      float* dst = out + (oy - y0) * s_.out_w;
      for (int64_t x = 0; x < s_.out_w; x += width) {
        // A row's last tile ends at its last column, over columns the tile before it computed
        // too (the same sums, stored again): a full store, not a partial one.
        const int64_t x0 = s_.out_w >= width ? std::min(x, s_.out_w - width) : x;
        kernel_->direct(a, row + x0, offsets_.data(), k, bias_.data() + panel * rows, relu_,
                        dst + x0, plane, live,
                        static_cast<int>(std::min<int64_t>(width, s_.out_w - x0)), in_step,
                        s_.out_w, height);
      }
    }
  }

 private:
  // Calls f(source index in OIHW, destination index in the packed [panel][K][rows] layout).
  template <typename F>
  void for_each_weight(F f) const {
    const int rows = kernel_->direct_rows;
    const int64_t k = s_.k_per_group();
    for (int64_t o = 0; o < s_.out_c; ++o)
      for (int64_t i = 0; i < k; ++i) f(o * k + i, ((o / rows) * k + i) * rows + o % rows);
  }

  const GemmKernel* kernel_;
  bool relu_, codebook_ = false;
  int64_t panels_ = 0, padded_h_ = 0, phases_ = 1, phase_w_ = 0;
  std::vector<int32_t> offsets_;  // per tap: its input's offset in the arranged image
  std::vector<float> a_, bias_, book_;
  std::vector<uint8_t> codes_;
};

}  // namespace

std::unique_ptr<ConvOp> make_direct_conv(const ConvShape& s, const ConvWeights& w, bool relu,
                                         const GemmKernel& kernel) {
  if (s.groups != 1 || s.sw < 1 || s.sh < 1 || !windows_inside_padding(s)) return nullptr;
  // The taps' offsets are 32-bit: the arranged image must index within them.
  const double arranged = static_cast<double>(s.in_c) * (s.in_h + 2 * s.ph) *
                          std::min(s.sw, s.kw) *
                          (s.out_w + (s.kw - 1) / s.sw + kernel.direct_width);
  if (arranged >= 2147483647.0) return nullptr;
  return std::make_unique<DirectConvOp>(s, w, relu, kernel);
}

}  // namespace sqz::kernels
