// The runtime's fuzz oracle, shared by fuzz_run (.sqz files) and the importers' targets (the
// graphs they build): a model that plans must run, and the runtime's kernels (the rule, or
// every layer on the SpMM or the GEMM; 1 or 2 threads; batch 1 or 2; the rule's split or one
// forced on every layer; fused pooling and sums) must agree with the naive twins
// (KernelPolicy::kReference). `pick` (an input byte) chooses the policy, thread count, batch
// and split, so the fuzzer reaches every combination. Networks whose pass would take long
// under the sanitizers are skipped (cost below).
//
// Sums in another order round differently, and where an intermediate overflows they differ
// without bound (inf - inf is a NaN, which ReLU and max pooling turn into a number). So the
// outputs are compared against the magnitude network: the same graph with |weights|, |biases|
// and |inputs| (softmax as identity), run by the naive twins. Its outputs bound every partial
// sum of the network in any order; a network whose magnitudes overflow is skipped, and the
// kernels' error is allowed 1e-3 of its largest output.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "sqz/core/graph.h"
#include "sqz/core/tensor.h"
#include "sqz/runtime/net.h"

namespace sqz_fuzz {

// Multiply-adds and window reads of one image's pass, from the inferred shapes.
inline double pass_cost(const sqz::Model& model, const std::map<std::string, sqz::Shape>& shapes) {
  double cost = 0;
  for (const sqz::Layer& l : model.layers) {
    const auto out = shapes.find(l.output);
    if (out == shapes.end()) continue;
    double per_output = 1;
    if (l.op == sqz::OpKind::kConvolution)
      per_output = static_cast<double>(sqz::shape_numel(l.weight.shape)) /
                   std::max<int64_t>(1, l.conv.out_channels);
    if (l.op == sqz::OpKind::kMaxPool || l.op == sqz::OpKind::kAvgPool)
      per_output = static_cast<double>(l.pool.kernel_h) * l.pool.kernel_w;
    cost += per_output * static_cast<double>(sqz::shape_numel(out->second));
  }
  return cost;
}

// Deterministic inputs in [-1, 1): a fixed sequence, so that a finding reproduces.
inline std::vector<float> test_input(int64_t n) {
  std::vector<float> x(n);
  uint32_t s = 12345;
  for (float& v : x) {
    s = s * 1664525u + 1013904223u;
    v = static_cast<float>(s >> 8) / 8388608.0f - 1.0f;
  }
  return x;
}

// The magnitude network (see the top): non-negative everywhere, so no sum cancels.
inline sqz::Model magnitude_model(sqz::Model model) {
  for (sqz::Layer& l : model.layers) {
    if (l.op == sqz::OpKind::kSoftmax) {
      l.op = sqz::OpKind::kDropout;  // an identity; softmax's output error is at most its input's
      continue;
    }
    if (l.op != sqz::OpKind::kConvolution) continue;
    for (float& w : l.weight.data) w = std::fabs(w);
    for (float& b : l.bias.data) b = std::fabs(b);
    l.quant = {};
  }
  return model;
}

// Runs `model` on the test input (its magnitudes with `absolute`); with `overflowed`, set when
// a convolution's input holds a value that is not finite or beyond 1e30.
inline bool run(const sqz::Model& model, sqz::runtime::NetOptions options, int64_t batch,
                bool absolute, std::vector<float>* out, bool* overflowed = nullptr) {
  options.max_activation_bytes = int64_t{16} << 20;
  auto net = sqz::runtime::Net::create(model, options);
  if (!net.is_ok()) return false;
  sqz::runtime::Net& n = *net.value();
  std::vector<float> x = test_input(batch * sqz::shape_numel(n.input_chw()));
  if (absolute)
    for (float& v : x) v = std::fabs(v);
  sqz::Model shaped = model;
  auto shapes = sqz::validate_and_infer(shaped, 1);
  if (overflowed && shapes.is_ok())
    n.set_conv_input_hook([&](const std::string& name, const float* chw) {
      const sqz::Layer* l = model.find_layer(name);
      if (!l) return;
      const int64_t count = sqz::shape_numel(shapes.value().at(l->inputs[0]));
      for (int64_t i = 0; i < count; ++i)
        if (!(std::fabs(chw[i]) < 1e30f)) *overflowed = true;
    });
  return n.forward(x.data(), batch, out).is_ok();
}

// The largest output of the magnitude network, or a negative value when it overflows.
inline double magnitude_bound(const sqz::Model& dense, int64_t batch) {
  sqz::runtime::NetOptions reference;
  reference.policy = sqz::runtime::KernelPolicy::kReference;
  std::vector<float> out;
  bool overflowed = false;
  if (!run(magnitude_model(dense), reference, batch, true, &out, &overflowed) || overflowed)
    return -1;
  double bound = 0;
  for (float v : out) {
    if (!(std::fabs(v) < 1e30f)) return -1;
    bound = std::max(bound, static_cast<double>(std::fabs(v)));
  }
  return bound;
}

// Checks `model` (as the runtime reads it: codes only where quantized) against the naive
// twins; `dense` is the same model with float32 weights (for the magnitude network).
inline void check_runtime(const sqz::Model& model, const sqz::Model& dense, uint8_t pick) {
  sqz::Model copy = model;
  auto shapes = sqz::validate_and_infer(copy, 1);
  if (!shapes.is_ok() || pass_cost(copy, shapes.value()) > 4e6) return;
  sqz::runtime::NetOptions options;
  options.threads = 1 + (pick & 1);
  const sqz::runtime::KernelPolicy policies[] = {sqz::runtime::KernelPolicy::kAuto,
                                                 sqz::runtime::KernelPolicy::kSparse,
                                                 sqz::runtime::KernelPolicy::kDense};
  options.policy = policies[(pick >> 1) % 3];
  const int64_t batch = 1 + ((pick >> 3) & 1);
  const char* schedules[] = {"", "shared", "blocks:2048", "panels"};
  options.force_schedule = schedules[(pick >> 4) & 3];
  const double bound = magnitude_bound(dense, batch);
  if (bound < 0) return;  // a sum may overflow: Net::forward may refuse its outputs
  std::vector<float> got, want;
  if (!run(model, options, batch, false, &got)) return;
  sqz::runtime::NetOptions reference;
  reference.policy = sqz::runtime::KernelPolicy::kReference;
  // The same model planned by the naive twins must run too: the fast kernels accepted it.
  if (!run(model, reference, batch, false, &want)) std::abort();
  if (got.size() != want.size()) std::abort();
  for (size_t i = 0; i < got.size(); ++i)
    if (!(std::fabs(static_cast<double>(got[i]) - want[i]) <= 1e-3 * bound + 1e-6)) std::abort();
}

}  // namespace sqz_fuzz
