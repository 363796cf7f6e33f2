#include <cstdint>

#include "ops.h"
#include "sqz/kernels/cpu_clones.h"

namespace sqz::train {
namespace {

// MurmurHash3's 32-bit finalizer (Appleby): a bijection that mixes every input bit into
// every output bit; two rounds of it over (element index, key) give a counter-based uniform
// draw per element (as Philox-style generators do), with no sequential state, so the loop
// vectorizes and every element's draw depends only on the key and its index.
inline uint32_t mix32(uint32_t h) {
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  h ^= h >> 16;
  return h;
}

inline uint64_t mix64(uint64_t z) {  // splitmix64's finalizer, to spread the 64-bit seed
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// mask[k] = scale where the element is kept (probability keep_24 / 2^24), else 0; out = in * mask.
// The draw of element k is that of index first + k.
SQZ_CPU_CLONES void draw_mask(uint32_t key_a, uint32_t key_b, uint32_t keep_24, float scale,
                              const float* __restrict in, int64_t n, int64_t first,
                              float* __restrict mask, float* __restrict out) {
  for (int64_t k = 0; k < n; ++k) {
    const uint32_t h = mix32(mix32(static_cast<uint32_t>(first + k) ^ key_a) + key_b);
    const float m = (h >> 8) < keep_24 ? scale : 0.0f;
    mask[k] = m;
    out[k] = in[k] * m;
  }
}

}  // namespace

void dropout_forward(const OpPass& op, const std::vector<float>& in, std::vector<float>& out,
                     double rate, uint64_t seed) {
  if (rate <= 0) {
    out = in;
    return;
  }
  std::vector<float>& mask = op.w.dropout_mask[op.li];
  mask.resize(in.size());
  const uint64_t key = mix64(seed);
  const auto keep_24 = static_cast<uint32_t>((1.0 - rate) * (1u << 24) + 0.5);
  // An element's draw is keyed by its index in the image-major (NCHW) order, whatever the
  // layout in memory: the masks do not depend on it.
  const int64_t c = channels(op.is), hw = per_image(op.is) / c;
  for (int64_t ch = 0; ch < c; ++ch)
    for (int64_t b = 0; b < op.n; ++b) {
      const int64_t at = (ch * op.n + b) * hw;
      draw_mask(static_cast<uint32_t>(key), static_cast<uint32_t>(key >> 32), keep_24,
                static_cast<float>(1.0 / (1.0 - rate)), in.data() + at, hw, (b * c + ch) * hw,
                mask.data() + at, out.data() + at);
    }
}

void dropout_backward(const OpPass& op, const std::vector<float>& dy, const GradOf& grad_of) {
  const GradOut dx = grad_of(op.l.inputs[0]);
  auto m = op.w.dropout_mask.find(op.li);
  const bool masked = m != op.w.dropout_mask.end();
  for (size_t k = 0; k < dx.g.size(); ++k) {
    const float g = masked ? dy[k] * m->second[k] : dy[k];
    dx.g[k] = (dx.fresh ? 0.0f : dx.g[k]) + g;  // 0 + g as before: no -0 where g is -0
  }
}

}  // namespace sqz::train
