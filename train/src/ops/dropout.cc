#include <random>

#include "ops.h"

namespace sqz::train {

void dropout_forward(const OpPass& op, const std::vector<float>& in, std::vector<float>& out,
                     double rate, uint64_t seed) {
  if (rate <= 0) {
    out = in;
    return;
  }
  std::mt19937_64 rng(seed);
  std::bernoulli_distribution keep(1.0 - rate);
  std::vector<float>& mask = op.w.dropout_mask[op.li];
  mask.resize(in.size());
  for (size_t k = 0; k < in.size(); ++k) {
    mask[k] = keep(rng) ? static_cast<float>(1.0 / (1.0 - rate)) : 0.0f;
    out[k] = in[k] * mask[k];
  }
}

void dropout_backward(const OpPass& op, const std::vector<float>& dy, const GradOf& grad_of) {
  std::vector<float>& dx = grad_of(op.l.inputs[0]);
  auto m = op.w.dropout_mask.find(op.li);
  for (size_t k = 0; k < dx.size(); ++k)
    dx[k] += m == op.w.dropout_mask.end() ? dy[k] : dy[k] * m->second[k];
}

}  // namespace sqz::train
