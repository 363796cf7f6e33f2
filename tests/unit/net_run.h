// A net created and run once, for the runtime's tests (test_runtime.cc, test_pool_fusion.cc,
// test_tuning.cc): its outputs, what planning found, and each layer's kernel.
#pragma once

#include <doctest/doctest.h>

#include <map>
#include <string>
#include <vector>

#include "sqz/runtime/net.h"

namespace net_test {

struct NetRun {
  std::vector<float> out;
  sqz::runtime::PlanStats stats;
  std::vector<sqz::runtime::LayerProfile> profile;
  std::map<std::string, std::string> kernel;  // layer -> its profile's kernel
};

inline NetRun run_net(const sqz::Model& m, const std::vector<float>& in, int64_t batch,
                      const sqz::runtime::NetOptions& opts) {
  auto net = sqz::runtime::Net::create(m, opts);
  REQUIRE(net.is_ok());
  NetRun r;
  REQUIRE((*net)->forward(in.data(), batch, &r.out).is_ok());
  r.stats = (*net)->plan_stats();
  r.profile = (*net)->profile();
  for (const sqz::runtime::LayerProfile& l : r.profile) r.kernel[l.name] = l.kernel;
  return r;
}

inline std::vector<float> forward(const sqz::Model& m, const std::vector<float>& in,
                                  int64_t batch, const sqz::runtime::NetOptions& opts) {
  return run_net(m, in, batch, opts).out;
}

// The naive twins' outputs (KernelPolicy::kReference), which the fast paths are checked
// against.
inline std::vector<float> reference_forward(const sqz::Model& m, const std::vector<float>& in,
                                            int64_t batch) {
  sqz::runtime::NetOptions ref;
  ref.policy = sqz::runtime::KernelPolicy::kReference;
  return forward(m, in, batch, ref);
}

}  // namespace net_test
