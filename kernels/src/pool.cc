#include "sqz/kernels/pool.h"

#include <algorithm>
#include <limits>
#include <vector>

#include "sqz/kernels/cpu_clones.h"
#include "sqz/kernels/machine.h"

extern "C" void sqz_maxpool_3x3s2_avx512(const float* in, int64_t in_plane, int64_t in_w,
                                         int64_t channels, int64_t out_h, int64_t out_w, float* out,
                                         int64_t out_plane);
extern "C" void sqz_maxpool_3x3s2_avx2(const float* in, int64_t in_plane, int64_t in_w,
                                       int64_t channels, int64_t out_h, int64_t out_w, float* out,
                                       int64_t out_plane);

namespace sqz::kernels {

namespace {

const MaxPool3x3s2Kernel kPoolAvx512{"maxpool_3x3s2_avx512", sqz_maxpool_3x3s2_avx512, 1,
                                     Isa::kAvx512};
const MaxPool3x3s2Kernel kPoolAvx2{"maxpool_3x3s2_avx2", sqz_maxpool_3x3s2_avx2, 8, Isa::kAvx2};

// The hand-written pooling of the ISA the runtime uses (machine().isa), or null (the
// function-multiversioned loops below).
MaxPool3x3s2Fn maxpool_3x3s2_kernel(int64_t out_w) {
  for (const MaxPool3x3s2Kernel* k : {&kPoolAvx512, &kPoolAvx2})
    if (k->isa == machine().isa) return out_w >= k->min_out_w ? k->fn : nullptr;
  return nullptr;
}

// Column maxima of n windows that lie wholly inside the row: window i starts at x0 + i * SW.
// Window and stride are compile-time constants so that the loop vectorizes.
template <int KW, int SW>
SQZ_CPU_CLONES void interior_column_max(const float* rowmax, int64_t x0, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) {
    const float* r = rowmax + x0 + i * SW;
    float m = r[0];
    for (int j = 1; j < KW; ++j) m = std::max(m, r[j]);
    out[i] = m;
  }
}

using ColumnMax = void (*)(const float*, int64_t, int64_t, float*);

// The vectorizable column pass for the common windows (SqueezeNet and most CNNs use 3x3 or
// 2x2 with stride 2), or null.
ColumnMax interior_kernel(int64_t kw, int64_t sw) {
  if (kw == 3 && sw == 2) return interior_column_max<3, 2>;
  if (kw == 2 && sw == 2) return interior_column_max<2, 2>;
  if (kw == 3 && sw == 1) return interior_column_max<3, 1>;
  return nullptr;
}

// One output row from the row maxima: clipped windows by the generic loop, the others by
// the specialized kernel when there is one.
void column_max_row(const PoolShape& s, const float* rowmax, ColumnMax kernel, float* out) {
  // Output columns whose window [ox*sw - pw, ox*sw - pw + kw) lies inside [0, in_w).
  const int64_t lo = std::min(s.out_w, (s.pw + s.sw - 1) / s.sw);
  const int64_t hi = s.in_w + s.pw >= s.kw
                         ? std::clamp<int64_t>((s.in_w + s.pw - s.kw) / s.sw + 1, lo, s.out_w)
                         : lo;
  auto generic = [&](int64_t ox) {
    const int64_t x0 = std::max<int64_t>(ox * s.sw - s.pw, 0);
    const int64_t x1 = std::min(ox * s.sw - s.pw + s.kw, s.in_w);
    float m = -std::numeric_limits<float>::infinity();
    for (int64_t x = x0; x < x1; ++x) m = std::max(m, rowmax[x]);
    out[ox] = m;
  };
  if (!kernel) {
    for (int64_t ox = 0; ox < s.out_w; ++ox) generic(ox);
    return;
  }
  for (int64_t ox = 0; ox < lo; ++ox) generic(ox);
  kernel(rowmax, lo * s.sw - s.pw, hi - lo, out + lo);
  for (int64_t ox = hi; ox < s.out_w; ++ox) generic(ox);
}

// 3x3 windows at stride 2 that all lie inside the image (SqueezeNet's pools; ceil mode
// lands inside too): one pass per output row, no clipping, no calls per row.
SQZ_CPU_CLONES void maxpool_3x3s2_inside(const PoolShape& s, const float* in, int64_t in_plane,
                                         float* out, int64_t out_plane, float* rowmax) {
  for (int64_t c = 0; c < s.c; ++c) {
    const float* plane = in + c * in_plane;
    float* o = out + c * out_plane;
    for (int64_t oy = 0; oy < s.out_h; ++oy, o += s.out_w) {
      const float* r0 = plane + 2 * oy * s.in_w;
      const float *r1 = r0 + s.in_w, *r2 = r1 + s.in_w;
      for (int64_t x = 0; x < s.in_w; ++x) rowmax[x] = std::max(std::max(r0[x], r1[x]), r2[x]);
      for (int64_t ox = 0; ox < s.out_w; ++ox)
        o[ox] = std::max(std::max(rowmax[2 * ox], rowmax[2 * ox + 1]), rowmax[2 * ox + 2]);
    }
  }
}

// The max over one output row's window rows [y0, y1) of a plane, into rowmax.
SQZ_CPU_CLONES void window_row_max(const float* plane, int64_t in_w, int64_t y0, int64_t y1, float* rm) {
  const float* first = plane + y0 * in_w;
  if (y1 - y0 == 3) {  // the common 3-row window in one pass
    const float *r1 = first + in_w, *r2 = r1 + in_w;
    for (int64_t x = 0; x < in_w; ++x) rm[x] = std::max(std::max(first[x], r1[x]), r2[x]);
    return;
  }
  std::copy(first, first + in_w, rm);
  for (int64_t y = y0 + 1; y < y1; ++y) {
    const float* row = plane + y * in_w;
    for (int64_t x = 0; x < in_w; ++x) rm[x] = std::max(rm[x], row[x]);
  }
}

}  // namespace

void maxpool2d_f32(const PoolShape& s, const float* in, float* out) {
  maxpool2d_f32(s, in, s.in_h * s.in_w, out, s.out_h * s.out_w);
}

// Separable: the max over the window's rows first (a vectorizable pass over whole input
// rows), then over its columns. An empty window (possible when stride > kernel) gives -inf.
SQZ_CPU_CLONES void maxpool2d_f32(const PoolShape& s, const float* in, int64_t in_plane,
                                  float* out, int64_t out_plane) {
  std::vector<float> rowmax(static_cast<size_t>(s.in_w));
  if (s.kh == 3 && s.kw == 3 && s.sh == 2 && s.sw == 2 && s.ph == 0 && s.pw == 0 && s.out_h >= 1 &&
      s.out_w >= 1 && 2 * (s.out_h - 1) + 3 <= s.in_h && 2 * (s.out_w - 1) + 3 <= s.in_w) {
    if (const MaxPool3x3s2Fn kernel = maxpool_3x3s2_kernel(s.out_w))
      return kernel(in, in_plane, s.in_w, s.c, s.out_h, s.out_w, out, out_plane);
    return maxpool_3x3s2_inside(s, in, in_plane, out, out_plane, rowmax.data());
  }
  const ColumnMax kernel = interior_kernel(s.kw, s.sw);
  for (int64_t c = 0; c < s.c; ++c) {
    const float* plane = in + c * in_plane;
    float* o = out + c * out_plane;
    for (int64_t oy = 0; oy < s.out_h; ++oy, o += s.out_w) {
      const int64_t y0 = std::max<int64_t>(oy * s.sh - s.ph, 0);
      const int64_t y1 = std::min(oy * s.sh - s.ph + s.kh, s.in_h);
      if (y0 >= y1) {  // a ceil-mode window wholly outside the image (stride > kernel)
        std::fill_n(o, s.out_w, -std::numeric_limits<float>::infinity());
        continue;
      }
      window_row_max(plane, s.in_w, y0, y1, rowmax.data());
      column_max_row(s, rowmax.data(), kernel, o);
    }
  }
}

void avgpool2d_f32(const PoolShape& s, const float* in, float* out) {
  for (int64_t c = 0; c < s.c; ++c) {
    const float* plane = in + c * s.in_h * s.in_w;
    for (int64_t oy = 0; oy < s.out_h; ++oy) {
      const int64_t ys = oy * s.sh - s.ph, ye = std::min(ys + s.kh, s.in_h + s.ph + s.eh);
      const int64_t y0 = std::max<int64_t>(ys, 0), y1 = std::min(ye, s.in_h);
      for (int64_t ox = 0; ox < s.out_w; ++ox) {
        const int64_t xs = ox * s.sw - s.pw, xe = std::min(xs + s.kw, s.in_w + s.pw + s.ew);
        const int64_t x0 = std::max<int64_t>(xs, 0), x1 = std::min(xe, s.in_w);
        double sum = 0;
        for (int64_t y = y0; y < y1; ++y)
          for (int64_t x = x0; x < x1; ++x) sum += plane[y * s.in_w + x];
        const int64_t count =
            s.average_counts_padding ? (ye - ys) * (xe - xs) : (y1 - y0) * (x1 - x0);
        *out++ = static_cast<float>(sum / static_cast<double>(std::max<int64_t>(count, 1)));
      }
    }
  }
}

void global_avgpool_f32(int64_t c, int64_t hw, const float* in, float* out) {
  constexpr int kLanes = 8;  // independent partial sums: a vector register, no serial chain
  for (int64_t i = 0; i < c; ++i) {
    const float* x = in + i * hw;
    float part[kLanes] = {};
    int64_t j = 0;
    for (; j + kLanes <= hw; j += kLanes)
      for (int k = 0; k < kLanes; ++k) part[k] += x[j + k];
    double sum = 0;
    for (; j < hw; ++j) sum += x[j];
    for (float p : part) sum += p;
    out[i] = static_cast<float>(sum / static_cast<double>(hw));
  }
}

void global_maxpool_f32(int64_t c, int64_t hw, const float* in, float* out) {
  for (int64_t i = 0; i < c; ++i) out[i] = *std::max_element(in + i * hw, in + (i + 1) * hw);
}

std::vector<MaxPool3x3s2Kernel> runnable_maxpool_3x3s2_kernels() {
  __builtin_cpu_init();
  std::vector<MaxPool3x3s2Kernel> out;
  if (__builtin_cpu_supports("avx512f")) out.push_back(kPoolAvx512);
  if (__builtin_cpu_supports("avx2")) out.push_back(kPoolAvx2);
  return out;
}

namespace ref {

void maxpool2d_f32(const PoolShape& s, const float* in, float* out) {
  for (int64_t c = 0; c < s.c; ++c)
    for (int64_t oy = 0; oy < s.out_h; ++oy)
      for (int64_t ox = 0; ox < s.out_w; ++ox) {
        float m = -std::numeric_limits<float>::infinity();
        for (int64_t i = 0; i < s.kh; ++i)
          for (int64_t j = 0; j < s.kw; ++j) {
            const int64_t y = oy * s.sh - s.ph + i, x = ox * s.sw - s.pw + j;
            if (y >= 0 && y < s.in_h && x >= 0 && x < s.in_w)
              m = std::max(m, in[(c * s.in_h + y) * s.in_w + x]);
          }
        *out++ = m;
      }
}

}  // namespace ref
}  // namespace sqz::kernels
