#include "sqz/kernels/spmm.h"

#define SQZ_DECLARE_SPMM(nr, isa)                                                                 \
  void sqz_spmm_##nr##_f32_##isa(const uint32_t*, const uint16_t*, const float*, const float*,    \
                                 int64_t, const float*, int64_t, bool, bool, float*, int64_t,     \
                                 int);                                                            \
  void sqz_spmm_blocks_##nr##_f32_##isa(const uint32_t*, const uint16_t*, const float*, int,      \
                                        const float*, int64_t, const float*, int64_t, bool, bool, \
                                        float*, int64_t, int);

extern "C" {
void sqz_spmm_pairs_64_f32_avx512(const uint32_t*, const uint32_t*, const uint16_t*, const float*,
                                  const float*, int64_t, const float*, int64_t, bool, bool, float*,
                                  int64_t, int);
SQZ_DECLARE_SPMM(64, avx512)
SQZ_DECLARE_SPMM(64, avx2)
SQZ_DECLARE_SPMM(16, generic)
}

namespace sqz::kernels {
namespace {

const SpmmKernel kAvx512{"spmm_64_f32_avx512",
                         64,
                         16,
                         sqz_spmm_64_f32_avx512,
                         sqz_spmm_blocks_64_f32_avx512,
                         Isa::kAvx512,
                         sqz_spmm_pairs_64_f32_avx512};
const SpmmKernel kAvx2{"spmm_64_f32_avx2",          64,        8, sqz_spmm_64_f32_avx2,
                       sqz_spmm_blocks_64_f32_avx2, Isa::kAvx2};
const SpmmKernel kGeneric{"spmm_16_f32_generic",          16,           4, sqz_spmm_16_f32_generic,
                          sqz_spmm_blocks_16_f32_generic, Isa::kGeneric};

}  // namespace

std::vector<const SpmmKernel*> runnable_spmm_kernels() {
  __builtin_cpu_init();
  std::vector<const SpmmKernel*> out;
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma")) out.push_back(&kAvx512);
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) out.push_back(&kAvx2);
  out.push_back(&kGeneric);
  return out;
}

const SpmmKernel& best_spmm_kernel() {
  static const SpmmKernel* best = [] {
    for (const SpmmKernel* k : runnable_spmm_kernels())
      if (static_cast<int>(k->isa) <= static_cast<int>(machine().isa)) return k;
    return &kGeneric;
  }();
  return *best;
}

const SpmmKernel* spmm_kernel_for(Isa isa) {
  if (static_cast<int>(isa) > static_cast<int>(machine().isa)) return nullptr;
  for (const SpmmKernel* k : runnable_spmm_kernels())
    if (k->isa == isa) return k;
  return nullptr;
}

// Merges rows a = [i, a_end) and b = [j, b_end) of sorted positions into the positions both
// use (common: their a and b entries), and each one's own, without a branch an entry while
// both last (which side advances is data, a third of the time each: the predictor's worst
// case). The lists have room for every entry and one past.
struct PairMerge {
  std::vector<uint32_t> common_a, common_b, own_a, own_b;
  size_t nc = 0, na = 0, nb = 0;
  void run(const uint16_t* cols, uint32_t i, uint32_t a_end, uint32_t j, uint32_t b_end) {
    const size_t room = size_t{a_end - i} + (b_end - j) + 1;
    for (auto* v : {&common_a, &common_b, &own_a, &own_b})
      if (v->size() < room) v->resize(room);
    nc = na = nb = 0;
    while (i < a_end && j < b_end) {
      const uint32_t lt = cols[i] < cols[j], gt = cols[j] < cols[i], eq = 1 - lt - gt;
      common_a[nc] = i, common_b[nc] = j, own_a[na] = i, own_b[nb] = j;
      nc += eq, na += lt, nb += gt;
      i += lt | eq, j += gt | eq;
    }
    while (i < a_end) own_a[na++] = i++;
    while (j < b_end) own_b[nb++] = j++;
  }
};

void append_pairs(const uint32_t* row_start, const uint16_t* cols, int64_t rows, PairedCsr* out) {
  PairMerge m;  // its lists kept allocated across pairs
  for (int64_t r = 0; r < rows; r += 2) {
    const uint32_t a_end = row_start[r + 1];
    const uint32_t b_begin = r + 1 < rows ? row_start[r + 1] : a_end;
    const uint32_t b_end = r + 1 < rows ? row_start[r + 2] : a_end;
    out->pair_start.push_back(static_cast<uint32_t>(out->cols.size()));
    out->value_start.push_back(static_cast<uint32_t>(out->source.size()));
    m.run(cols, row_start[r], a_end, b_begin, b_end);
    for (size_t e = 0; e < m.nc; ++e) {
      out->cols.push_back(cols[m.common_a[e]]);
      out->source.push_back(m.common_a[e]);
      out->source.push_back(m.common_b[e]);
    }
    out->pair_start.push_back(static_cast<uint32_t>(out->cols.size()));
    for (size_t e = 0; e < m.na; ++e)
      out->cols.push_back(cols[m.own_a[e]]), out->source.push_back(m.own_a[e]);
    out->pair_start.push_back(static_cast<uint32_t>(out->cols.size()));
    for (size_t e = 0; e < m.nb; ++e)
      out->cols.push_back(cols[m.own_b[e]]), out->source.push_back(m.own_b[e]);
  }
}

namespace ref {

void spmm_pairs(const uint32_t* pair_start, const uint32_t* value_start, const uint16_t* cols,
                const float* values, const float* bias, int64_t rows, const float* b, int64_t ldb,
                int ncols, bool relu, float* c, int64_t ldc) {
  for (int64_t r = 0; r < rows; ++r) {
    const uint32_t* ps = pair_start + 3 * (r / 2);
    const bool first = r % 2 == 0;
    for (int j = 0; j < ncols; ++j) {
      double acc = bias[r];
      const float* w = values + value_start[r / 2];
      for (uint32_t e = ps[0]; e < ps[1]; ++e, w += 2)
        acc += double{w[first ? 0 : 1]} * b[cols[e] * ldb + j];
      const uint32_t own_begin = first ? ps[1] : ps[2], own_end = first ? ps[2] : ps[3];
      if (!first) w += ps[2] - ps[1];
      for (uint32_t e = own_begin; e < own_end; ++e, ++w) acc += double{*w} * b[cols[e] * ldb + j];
      c[r * ldc + j] = static_cast<float>(relu && acc < 0 ? 0.0 : acc);
    }
  }
}

void spmm(const uint32_t* row_start, const uint16_t* cols, const float* values, const float* bias,
          int64_t rows, const float* b, int64_t ldb, int ncols, bool relu, float* c, int64_t ldc) {
  for (int64_t r = 0; r < rows; ++r)
    for (int j = 0; j < ncols; ++j) {
      double acc = bias[r];
      for (uint32_t nz = row_start[r]; nz < row_start[r + 1]; ++nz)
        acc += double{values[nz]} * b[cols[nz] * ldb + j];
      c[r * ldc + j] = static_cast<float>(relu && acc < 0 ? 0.0 : acc);
    }
}

void spmm_blocks(const uint32_t* row_start, const uint16_t* cols, const float* values, int kb,
                 const float* bias, int64_t rows, const float* b, int64_t ldb, int ncols, bool relu,
                 float* c, int64_t ldc) {
  for (int64_t r = 0; r < rows; ++r)
    for (int j = 0; j < ncols; ++j) {
      double acc = bias[r];
      for (uint32_t k = row_start[r]; k < row_start[r + 1]; ++k)
        for (int t = 0; t < kb; ++t)
          acc += double{values[int64_t{k} * kb + t]} * b[(cols[k] + t) * ldb + j];
      c[r * ldc + j] = static_cast<float>(relu && acc < 0 ? 0.0 : acc);
    }
}

}  // namespace ref
}  // namespace sqz::kernels
