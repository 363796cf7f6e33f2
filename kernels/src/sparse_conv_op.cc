// The SpMM convolution op: CSR (or whole-kernel blocks, or pairs of rows) over K chunks.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

#include "conv_op_util.h"
#include "sqz/kernels/codebook.h"
#include "sqz/kernels/conv_op.h"
#include "sqz/kernels/im2col.h"

namespace sqz::kernels {
namespace {

using detail::copy_bias;
using detail::for_panel;
using detail::row_code_starts;

// A layer's weights as the SpMM reads them. The CSR is blocked over K: chunk q lists, row by
// row, the non-zeros whose B row lies in [q*kc, (q+1)*kc), so that a chunk's NR-wide slice of
// B (kc x NR floats, a thread's share of this CPU's L1d) stays in L1 while every output row sweeps
// it; rows accumulate across chunks in the output. A layer pruned at kernel granularity (every kh x
// kw kernel kept whole or dropped whole) is listed by kernels instead: one entry per kept kernel,
// its kb = kh*kw values in a row (SpmmKernel::blocks). With a two-row kernel the rows are regrouped
// in pairs (SpmmPairsFn).
struct SparseLayout {
  int kb = 1;           // B rows per entry: 1, or kh*kw for whole kernels
  bool paired = false;  // pair_start and value_start, no row_start
  int64_t kc = 0, chunks = 1;
  std::vector<uint32_t> row_start;  // per (group, chunk): ocg + 1 offsets; cols within the group
  std::vector<uint32_t> pair_start, value_start;  // per (group, chunk): 3 a pair + 1; 1 a pair
  std::vector<uint16_t> cols;                     // an entry's first B row (kb rows from there)
  std::vector<uint8_t> codes;                     // a codebook layer's, in entry order
  std::vector<float> values;                      // or a float32 layer's
};

// Whether every kh x kw kernel of every output channel is stored whole or not at all.
template <typename Stored>
bool whole_kernels(const ConvShape& s, Stored stored) {
  const int64_t taps = s.kh * s.kw, n = s.out_c * s.k_per_group();
  for (int64_t start = 0; start < n; start += taps)
    for (int64_t t = 1; t < taps; ++t)
      if (stored(start + t) != stored(start)) return false;
  return true;
}

// Whether at most 1 in 16 of the kept kernels' float32 weights is zero: blocks multiply
// the zeros a per-weight list would skip (a model pruned per weight, then per kernel).
template <typename Kept>
bool few_zeros_kept(const ConvShape& s, const ConvWeights& w, Kept kept) {
  if (w.codes) return true;  // codebooks hold no zero (the zero slot is the pruned one)
  int64_t slots = 0, zeros = 0;
  for (int64_t i = 0, n = s.out_c * s.k_per_group(); i < n; ++i)
    if (kept(i)) ++slots, zeros += w.weight[i] == 0.0f;
  return zeros * 16 <= slots;
}

// The CSR of every (group, chunk) of a layer listed by weight (kb 1), without a branch a
// weight: a position is written whatever it holds and the list's end advanced by whether it is
// stored (pruned weights kept at random, a third of them, defeat the branch predictor: the
// branch and a table of 8 bytes a weight took a sixth of a one-image `run`). The lists have room
// for one entry past the last; next_code: each row's next code (a codebook layer lists exactly the
// weights that have codes, each row's in order across the chunks).
template <typename Stored>
void list_weights(const ConvShape& s, const ConvWeights& w, Stored stored,
                  std::vector<int64_t>& next_code, SparseLayout* l) {
  const int64_t k = s.k_per_group(), ocg = s.out_c / s.groups;
  // A codebook layer stores exactly the weights that have codes (has_code: the mask's ones),
  // counted by row_code_starts.
  const uint8_t* mask = w.codes ? w.mask : nullptr;
  auto keeps = [&](int64_t src) -> int64_t {
    return w.codes ? (!mask || mask[src] != 0) : stored(src);
  };
  int64_t total = w.codes ? next_code.back() : 0;
  if (!w.codes)
    for (int64_t src = 0; src < s.out_c * k; ++src) total += stored(src);
  const bool coded = w.codes && total > 0;
  l->cols.resize(static_cast<size_t>(total + 1));
  l->codes.resize(coded ? static_cast<size_t>(total + 1) : 0);
  l->values.resize(w.codes ? 0 : static_cast<size_t>(total + 1));
  int64_t e = 0;
  for (int64_t g = 0; g < s.groups; ++g) {
    for (int64_t q = 0; q < l->chunks; ++q) {
      l->row_start.push_back(static_cast<uint32_t>(e));
      const int64_t i0 = q * l->kc, i1 = std::min(k, (q + 1) * l->kc);
      for (int64_t r = g * ocg; r < (g + 1) * ocg; ++r) {
        if (coded) {
          int64_t code = next_code[static_cast<size_t>(r)];
          for (int64_t i = i0; i < i1; ++i) {
            const int64_t keep = keeps(r * k + i);
            l->cols[e] = static_cast<uint16_t>(i);
            l->codes[e] = w.codes[std::min(code, total - 1)];
            e += keep, code += keep;
          }
          next_code[static_cast<size_t>(r)] = code;
        } else if (!w.codes) {
          for (int64_t i = i0; i < i1; ++i) {
            const int64_t keep = stored(r * k + i);
            l->cols[e] = static_cast<uint16_t>(i);
            l->values[e] = w.weight[r * k + i];
            e += keep;
          }
        }
        l->row_start.push_back(static_cast<uint32_t>(e));
      }
    }
  }
  l->cols.resize(static_cast<size_t>(e));
  if (coded) l->codes.resize(static_cast<size_t>(e));
  if (!w.codes) l->values.resize(static_cast<size_t>(e));
}

// The CSR of every (group, chunk): the entries `stored` keeps, row by row, with their codes
// or float32 values.
template <typename Stored>
void list_entries(const ConvShape& s, const ConvWeights& w, Stored stored, SparseLayout* l) {
  const int64_t k = s.k_per_group(), ocg = s.out_c / s.groups;
  // Each row's next code: the chunks visit a row's weights in order.
  std::vector<int64_t> next_code =
      w.codes ? row_code_starts(w, s.out_c, k) : std::vector<int64_t>{};
  if (l->kb == 1) return list_weights(s, w, stored, next_code, l);
  for (int64_t g = 0; g < s.groups; ++g) {
    for (int64_t q = 0; q < l->chunks; ++q) {
      l->row_start.push_back(static_cast<uint32_t>(l->cols.size()));
      for (int64_t r = g * ocg; r < (g + 1) * ocg; ++r) {
        for (int64_t i = q * l->kc; i < std::min(k, (q + 1) * l->kc); i += l->kb) {
          if (!stored(r * k + i)) continue;  // the whole kernel
          l->cols.push_back(static_cast<uint16_t>(i));
          for (int64_t src = r * k + i; src < r * k + i + l->kb; ++src) {
            if (w.codes)  // a codebook layer lists exactly the weights that have codes
              l->codes.push_back(w.codes[next_code[static_cast<size_t>(r)]++]);
            else
              l->values.push_back(w.weight[src]);
          }
        }
        l->row_start.push_back(static_cast<uint32_t>(l->cols.size()));
      }
    }
  }
}

// The CSR of every (group, chunk) regrouped for the two-row form, rows 2p and 2p+1 a pair.
void regroup_in_pairs(const ConvShape& s, SparseLayout* l) {
  const int64_t ocg = s.out_c / s.groups;
  PairedCsr paired;
  for (int64_t seg = 0; seg < s.groups * l->chunks; ++seg) {
    append_pairs(l->row_start.data() + seg * (ocg + 1), l->cols.data(), ocg, &paired);
    paired.pair_start.push_back(static_cast<uint32_t>(paired.cols.size()));
  }
  auto reorder = [&](auto* v) {
    std::remove_reference_t<decltype(*v)> out(paired.source.size());
    for (size_t i = 0; i < out.size(); ++i) out[i] = (*v)[paired.source[i]];
    *v = std::move(out);
  };
  if (l->codes.empty())
    reorder(&l->values);
  else
    reorder(&l->codes);
  l->cols = std::move(paired.cols);
  l->pair_start = std::move(paired.pair_start);
  l->value_start = std::move(paired.value_start);
  l->row_start = {};
  l->paired = true;
}

SparseLayout make_layout(const ConvShape& s, const ConvWeights& w, const SpmmKernel& kernel,
                         int64_t chunk_bytes, bool pair_rows) {
  const int64_t k = s.k_per_group(), taps = s.kh * s.kw;
  const bool codebook = w.codes != nullptr;
  SparseLayout l;
  // A weight is listed when its position is stored (the mask; without one, when non-zero);
  // per weight, a float32 layer's stored zeros are dropped too, while a kernel block keeps
  // them (a kept kernel may hold weights pruned singly before).
  auto kept = [&](int64_t src) {
    return w.mask ? w.mask[src] != 0 : codebook || w.weight[src] != 0.0f;
  };
  l.kb = taps > 1 && whole_kernels(s, kept) && few_zeros_kept(s, w, kept) ? static_cast<int>(taps)
                                                                          : 1;
  auto stored = [&](int64_t src) {
    return l.kb > 1 ? kept(src) : kept(src) && (codebook || w.weight[src] != 0.0f);
  };
  if (chunk_bytes <= 0) chunk_bytes = l1d_per_thread(machine());
  l.kc = std::max<int64_t>(16, chunk_bytes / (4 * kernel.nr));
  l.kc = (l.kc + l.kb - 1) / l.kb * l.kb;  // no kernel straddles two chunks
  l.chunks = std::max<int64_t>(1, (k + l.kc - 1) / l.kc);
  list_entries(s, w, stored, &l);
  if (pair_rows && kernel.pairs && l.kb == 1) regroup_in_pairs(s, &l);
  return l;
}

class SparseOp : public ConvOp {
 public:
  SparseOp(const ConvShape& s, const ConvWeights& w, bool relu, const SpmmKernel& kernel,
           int64_t chunk_bytes, bool pair_rows)
      : ConvOp(s, kernel.nr),
        kernel_(&kernel),
        relu_(relu),
        codebook_(w.codes != nullptr),
        l_(make_layout(s, w, kernel, chunk_bytes, pair_rows)) {
    copy_bias(w, s.out_c, &bias_);
    if (codebook_) book_.assign(w.codebook, w.codebook + w.codebook_size);
  }

  std::string kernel_name() const override {
    return std::string(kernel_->name) + (l_.kb > 1 ? " kernels" : "") +
           (l_.paired ? " pairs" : "") + (codebook_ ? " (codes)" : "");
  }
  int max_row_blocks() const override {
    return static_cast<int>(std::max<int64_t>(1, s_.out_c / s_.groups / 16));
  }
  // A panel copied or built (kc x nr, within k x nr), the narrow last panel's rows, and with
  // builds_b_from_image the panel's tap masks.
  int64_t scratch_floats() const override {
    const int64_t mask_rows = builds_b_from_image() ? s_.kh * s_.kw : 0;
    return (s_.k_per_group() + s_.out_c / s_.groups + mask_rows) * kernel_->nr;
  }
  bool builds_b_from_image() const override {
    return conv_keeps_size(s_) && s_.kh * s_.kw > 1 && kernel_->nr <= kMaxPanelWidth &&
           kernel_->nr % 16 == 0;
  }
  bool prefers_unaligned_rows() const override { return false; }
  // With pairs, a row block starts on an even row, so that every split runs the same pairs
  // (the same bits).
  int64_t block_first_row(int64_t block, int row_blocks) const override {
    const int64_t ocg = s_.out_c / s_.groups, r = ocg * block / row_blocks;
    return l_.paired && block < row_blocks ? r & ~int64_t{1} : r;
  }
  // Codebook layers decode their codes into float values once per forward (shared scratch):
  // the SpMM loop then loads one float per non-zero instead of a code and its centroid.
  int64_t shared_floats() const override {
    return codebook_ ? static_cast<int64_t>(l_.codes.size()) : 0;
  }
  void prepare(float* shared, int64_t begin, int64_t end) const override {
    decode_codes(l_.codes.data() + begin, end - begin, book_.data(), shared + begin);
  }
  int64_t resident_bytes() const override {
    const size_t offsets = l_.row_start.size() + l_.pair_start.size() + l_.value_start.size();
    return static_cast<int64_t>(offsets * 4 + l_.cols.size() * 2 + l_.codes.size() +
                                l_.values.size() * 4 + book_.size() * 4 + bias_.size() * 4);
  }

  void run_items(const float* b, int64_t ldb, int64_t ncols, float* out, int64_t ldc,
                 int row_blocks, int64_t begin, int64_t end, float* scratch,
                 const float* shared) const override {
    for (int64_t item = begin; item < end; ++item) {
      int64_t g, n0, block;
      split_item(item, ncols, row_blocks, &g, &n0, &block);
      for_panel(s_, kernel_->nr, kernel_->vec_floats, b, ldb, ncols, g, n0, scratch,
                [&](const float* panel, int64_t ld, int cols) {
                  run_panel(g, n0, cols, block, row_blocks, shared, out, ldc, scratch,
                            [&](int64_t) { return std::make_pair(panel, ld); });
                });
    }
  }

  void run_items_on_image(const float* in, int64_t c0, int64_t ncols, float* out, int64_t ldc,
                          int row_blocks, int64_t begin, int64_t end, float* scratch,
                          const float* shared) const override {
    const int64_t nr = kernel_->nr, k = s_.k_per_group();
    uint32_t* masks = reinterpret_cast<uint32_t*>(scratch + (k + s_.out_c) * nr);
    int64_t masked = -1;  // the panel whose masks are in scratch
    for (int64_t item = begin; item < end; ++item) {
      int64_t g, n0, block;
      split_item(item, ncols, row_blocks, &g, &n0, &block);
      const int cols = static_cast<int>(std::min(nr, ncols - n0));
      if (masked != n0) same_panel_masks(s_, c0 + n0, cols, nr, masks), masked = n0;
      run_panel(g, n0, cols, block, row_blocks, shared, out, ldc, scratch, [&](int64_t q) {
        const int64_t k0 = q * l_.kc;
        im2col_same_panel(s_, in, c0 + n0, nr, masks, k0, std::min(k, k0 + l_.kc), scratch, nr);
        // The kernel finds B row r at panel + r * ld (the CSR's absolute rows): chunk q's rows,
        // built from scratch on, are handed over as if row 0 were k0 rows before it (an
        // address computed as an integer; no row below k0 is read).
        const auto at = reinterpret_cast<uintptr_t>(scratch) - static_cast<uintptr_t>(k0 * nr) * 4;
        return std::make_pair(reinterpret_cast<const float*>(at), nr);
      });
    }
  }

 private:
  // Row block `block` of group g over the panel of `cols` columns at column n0: chunk after
  // chunk, B of chunk q at chunk_b(q) (a pointer and row stride), into out (a narrow last panel
  // through scratch's rows past the panel's, then copied).
  template <typename ChunkB>
  void run_panel(int64_t g, int64_t n0, int cols, int64_t block, int row_blocks,
                 const float* shared, float* out, int64_t ldc, float* scratch,
                 ChunkB chunk_b) const {
    const int nr = kernel_->nr, vf = kernel_->vec_floats;
    const int64_t ocg = s_.out_c / s_.groups;
    const int64_t r0 = block_first_row(block, row_blocks),
                  r1 = block_first_row(block + 1, row_blocks);
    float* tile_out = scratch + s_.k_per_group() * nr;
    const bool whole = cols == nr;
    float* dst = whole ? out + (g * ocg + r0) * ldc + n0 : tile_out;
    const int vecs = whole ? nr / vf : (cols + vf - 1) / vf;  // a narrow one: what it needs
    const float* values = codebook_ ? shared : l_.values.data();
    for (int64_t q = 0; q < l_.chunks; ++q) {
      const auto [panel, ld] = chunk_b(q);
      run_chunk(q, panel, ld, g, r0, r1, values, dst, whole ? ldc : nr, vecs);
    }
    if (whole) return;
    for (int64_t r = r0; r < r1; ++r)
      std::memcpy(out + (g * ocg + r) * ldc + n0, tile_out + (r - r0) * nr, sizeof(float) * cols);
  }

  // Chunk q of rows [r0, r1) of group g over the first `vecs` vectors of one B panel, into dst
  // (row stride ldd): the first chunk starts from the bias, the last applies the ReLU.
  void run_chunk(int64_t q, const float* panel, int64_t ld, int64_t g, int64_t r0, int64_t r1,
                 const float* values, float* dst, int64_t ldd, int vecs) const {
    const int64_t ocg = s_.out_c / s_.groups, pairs = (ocg + 1) / 2;
    const float* bias = bias_.data() + g * ocg + r0;
    const int64_t seg = g * l_.chunks + q;
    const bool accumulate = q > 0, relu = relu_ && q == l_.chunks - 1;
    if (l_.paired)
      return kernel_->pairs(l_.pair_start.data() + seg * (3 * pairs + 1) + 3 * (r0 / 2),
                            l_.value_start.data() + seg * pairs + r0 / 2, l_.cols.data(), values,
                            bias, r1 - r0, panel, ld, accumulate, relu, dst, ldd, vecs);
    const uint32_t* rs = l_.row_start.data() + seg * (ocg + 1) + r0;
    if (l_.kb > 1)
      return kernel_->blocks(rs, l_.cols.data(), values, l_.kb, bias, r1 - r0, panel, ld,
                             accumulate, relu, dst, ldd, vecs);
    kernel_->f32(rs, l_.cols.data(), values, bias, r1 - r0, panel, ld, accumulate, relu, dst, ldd,
                 vecs);
  }

  const SpmmKernel* kernel_;
  bool relu_, codebook_;
  SparseLayout l_;
  std::vector<float> book_, bias_;
};

}  // namespace

std::unique_ptr<ConvOp> make_sparse_conv(const ConvShape& s, const ConvWeights& w, bool relu,
                                         const SpmmKernel& kernel, int64_t chunk_bytes,
                                         bool pair_rows) {
  return std::make_unique<SparseOp>(s, w, relu, kernel, chunk_bytes, pair_rows);
}

}  // namespace sqz::kernels
