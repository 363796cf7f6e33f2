// The runtime planned as on CPUs not at hand: every blocking parameter it derives from the
// machine description (im2col column blocks and the shared-im2col limit from the L2, the
// pooled bands of a fused stem from the L2, the SpMM's K chunk from the L1d) is tried with the
// caches of other CPUs, and of none, through kernels::set_machine_for_testing.
#include <doctest/doctest.h>

#include <map>
#include <random>
#include <string>
#include <vector>

#include "other_machines.h"
#include "sqz/kernels/machine.h"
#include "sqz/runtime/net.h"
#include "test_util.h"

using namespace sqz;

namespace {

std::vector<float> forward(const Model& m, const std::vector<float>& in, int64_t batch,
                           const runtime::NetOptions& o) {
  auto net = runtime::Net::create(m, o);
  REQUIRE(net.is_ok());
  std::vector<float> out;
  REQUIRE((*net)->forward(in.data(), batch, &out).is_ok());
  return out;
}

}  // namespace

TEST_CASE("plans from other CPUs' caches give the reference's outputs, the same bits per L1d") {
  const int64_t size = 67, batch = 2;
  std::mt19937 rng(30);
  const std::vector<float> in = test::random_floats(rng, batch * 3 * size * size, -50, 50);
  // Dense: the direct stem with its pooling fused; 40%: every layer on the SpMM.
  for (double density : {1.0, 0.4}) {
    const Model model = test::tiny_squeezenet(30, size, 10, density);
    runtime::NetOptions ref;
    ref.policy = runtime::KernelPolicy::kReference;
    const std::vector<float> want = forward(model, in, batch, ref);
    std::map<int64_t, std::vector<float>> by_l1d;  // the SpMM's K chunk follows the L1d alone
    for (const test::Caches& c : test::other_machines()) {
      const kernels::Machine m = test::described(c);
      const test::MachineScope scope(&m);
      CHECK(kernels::machine().model_name == c.name);
      CHECK(!kernels::describe_machine(kernels::machine()).empty());
      std::vector<float> first;
      for (int threads : {1, 2, 3}) {
        INFO(c.name << ", density " << density << ", " << threads << " thread(s)");
        runtime::NetOptions o;
        o.threads = threads;
        const std::vector<float> got = forward(model, in, batch, o);
        CHECK(test::max_rel_diff(got, want) < 1e-5);
        if (first.empty()) first = got;
        CHECK(got == first);  // the thread count changes the blocking only
      }
      const int64_t l1d = kernels::l1d_size(kernels::machine());
      auto [seen, added] = by_l1d.emplace(l1d, first);
      INFO(c.name << ", density " << density << ": against the first machine of L1d " << l1d);
      CHECK(seen->second == first);  // the L2, L3 and their sharing change the blocking only
    }
    CHECK(by_l1d.size() == 3);  // 48 KiB, 32 KiB (also for none and implausible), 8 KiB
  }
  CHECK(kernels::machine().model_name != test::other_machines()[0].name);  // the real machine again
}
