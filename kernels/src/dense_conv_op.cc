// The GEMM convolution op: weights packed in MR-row panels (float32, or codes expanded per pass).
#include <algorithm>
#include <cstring>

#include "conv_op_util.h"
#include "sqz/kernels/codebook.h"
#include "sqz/kernels/conv_op.h"

namespace sqz::kernels {
namespace {

using detail::copy_bias;
using detail::for_panel;
using detail::has_code;

class DenseGemmOp : public ConvOp {
 public:
  DenseGemmOp(const ConvShape& s, const ConvWeights& w, bool relu, const GemmKernel& kernel,
              int64_t k_block)
      : ConvOp(s, kernel.nr), kernel_(&kernel), relu_(relu),
        k_block_(k_block > 0 ? std::min(k_block, s.k_per_group()) : s.k_per_group()) {
    const int mr = kernel.mr;
    const int64_t ocg = s.out_c / s.groups, k = s.k_per_group();
    row_panels_ = (ocg + mr - 1) / mr;
    std::vector<float> bias;
    copy_bias(w, s.out_c, &bias);
    bias_.assign(static_cast<size_t>(s.groups * row_panels_ * mr), 0.0f);
    for (int64_t g = 0; g < s.groups; ++g)
      std::copy(bias.begin() + g * ocg, bias.begin() + (g + 1) * ocg,
                bias_.begin() + g * row_panels_ * mr);
    const int64_t packed = s.groups * row_panels_ * k * mr;
    codebook_ = w.codes != nullptr;
    if (codebook_) {
      // Packed like pack_gemm_a, one byte per weight; slot `codebook_size` decodes to 0.
      book_.assign(w.codebook, w.codebook + w.codebook_size);
      book_.push_back(0.0f);
      const uint8_t zero = static_cast<uint8_t>(w.codebook_size);
      a_codes_.assign(static_cast<size_t>(packed), zero);
      int64_t code = 0;  // for_each_weight visits the weights in order
      for_each_weight([&](int64_t src, int64_t dst) {
        if (has_code(w, src)) a_codes_[dst] = w.codes[code++];
      });
    } else {
      a_.assign(static_cast<size_t>(packed), 0.0f);
      for_each_weight([&](int64_t src, int64_t dst) { a_[dst] = w.weight[src]; });
    }
  }

  std::string kernel_name() const override {
    return std::string(kernel_->name) +
           (k_block_ < s_.k_per_group() ? " kc=" + std::to_string(k_block_) : "") +
           (codebook_ ? " (codes)" : "");
  }
  int max_row_blocks() const override {
    return static_cast<int>(std::max<int64_t>(1, row_panels_ / 2));
  }
  int64_t block_first_row(int64_t block, int row_blocks) const override {
    return std::min(s_.out_c / s_.groups, row_panels_ * block / row_blocks * kernel_->mr);
  }
  int64_t scratch_floats() const override { return s_.k_per_group() * kernel_->nr; }
  bool prefers_unaligned_rows() const override { return true; }
  int64_t shared_floats() const override {
    return codebook_ ? static_cast<int64_t>(a_codes_.size()) : 0;
  }
  void prepare(float* shared, int64_t begin, int64_t end) const override {
    if (!codebook_) return;
    decode_codes(a_codes_.data() + begin, end - begin, book_.data(), shared + begin);
  }
  int64_t resident_bytes() const override {
    return static_cast<int64_t>(a_.size() * 4 + a_codes_.size() + book_.size() * 4 +
                                bias_.size() * 4);
  }

  void run_items(const float* b, int64_t ldb, int64_t ncols, float* out, int64_t ldc,
                 int row_blocks, int64_t begin, int64_t end, float* scratch,
                 const float* shared) const override {
    const int mr = kernel_->mr, nr = kernel_->nr;
    const int64_t ocg = s_.out_c / s_.groups, k = s_.k_per_group();
    const float* a = codebook_ ? shared : a_.data();
    for (int64_t item = begin; item < end; ++item) {
      int64_t g, n0, block;
      split_item(item, ncols, row_blocks, &g, &n0, &block);
      const int64_t p0 = row_panels_ * block / row_blocks,
                    p1 = row_panels_ * (block + 1) / row_blocks;
      // K in blocks whose B panel stays in L1 while the row panels pass over it; a later
      // block's tiles start from the sums the earlier ones stored, so the products are added
      // in the same order as in one pass (the same bits for any block).
      for_panel(s_, nr, kernel_->vec_floats, b, ldb, ncols, g, n0, scratch,
                [&](const float* panel, int64_t ld, int cols) {
                  for (int64_t k0 = 0; k0 < k; k0 += k_block_) {
                    const int64_t kn = std::min(k_block_, k - k0);
                    const GemmTileFn tile = k0 == 0 ? kernel_->tile : kernel_->tile_acc;
                    for (int64_t p = p0; p < p1; ++p) {
                      const int rows = static_cast<int>(std::min<int64_t>(mr, ocg - p * mr));
                      tile(a + ((g * row_panels_ + p) * k + k0) * mr, panel + k0 * ld, ld, kn,
                           bias_.data() + (g * row_panels_ + p) * mr, relu_ && k0 + kn == k,
                           out + (g * ocg + p * mr) * ldc + n0, ldc, rows, cols);
                    }
                  }
                });
    }
  }

 private:
  // Calls f(source index in OIHW, destination index in the packed layout) for every weight,
  // in source order.
  template <typename F>
  void for_each_weight(F f) const {
    const int mr = kernel_->mr;
    const int64_t ocg = s_.out_c / s_.groups, k = s_.k_per_group();
    for (int64_t g = 0; g < s_.groups; ++g)
      for (int64_t r = 0; r < ocg; ++r)
        for (int64_t i = 0; i < k; ++i)
          f((g * ocg + r) * k + i, ((g * row_panels_ + r / mr) * k + i) * mr + r % mr);
  }

  const GemmKernel* kernel_;
  bool relu_, codebook_ = false;
  int64_t k_block_;  // B rows per K block (all of K: one pass)
  int64_t row_panels_ = 0;
  std::vector<float> a_, bias_, book_;
  std::vector<uint8_t> a_codes_;
};

}  // namespace

std::unique_ptr<ConvOp> make_dense_conv(const ConvShape& s, const ConvWeights& w, bool relu,
                                        const GemmKernel& kernel, int64_t k_block) {
  return std::make_unique<DenseGemmOp>(s, w, relu, kernel, k_block);
}

}  // namespace sqz::kernels
