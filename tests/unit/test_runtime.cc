#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cfloat>
#include <chrono>
#include <cmath>
#include <limits>
#include <map>
#include <mutex>
#include <thread>
#include <type_traits>

#include "net_run.h"
#include "other_machines.h"
#include "sqz/kernels/machine.h"
#include "sqz/runtime/arena_plan.h"
#include "sqz/runtime/cpu_quota.h"
#include "sqz/runtime/net.h"
#include "sqz/runtime/thread_pool.h"
#include "test_util.h"

using namespace sqz;
using net_test::forward;

TEST_CASE("the fast runtime equals the reference kernels, for any batch and thread count") {
  for (double density : {1.0, 0.33}) {
    Model m = test::tiny_squeezenet(3, 37, 10, density);
    std::mt19937 rng(5);
    const int64_t batch = 3;
    std::vector<float> in = test::random_floats(rng, batch * 3 * 37 * 37, -50, 50);
    runtime::NetOptions ref;
    ref.policy = runtime::KernelPolicy::kReference;
    std::vector<float> want = forward(m, in, batch, ref);
    REQUIRE(want.size() == batch * 10);
    runtime::NetOptions one_thread;
    const std::vector<float> first = forward(m, in, batch, one_thread);
    for (int threads : {1, 2, 3}) {
      INFO("threads=" << threads << " density=" << density);
      runtime::NetOptions fast;
      fast.threads = threads;
      const std::vector<float> got = forward(m, in, batch, fast);
      CHECK(test::max_rel_diff(got, want) < 1e-5);
      CHECK(got == first);  // bit for bit, whatever the thread count
    }
    // One image at a time gives the same rows as the batch.
    runtime::NetOptions fast;
    for (int64_t b = 0; b < batch; ++b) {
      std::vector<float> one(in.begin() + b * 3 * 37 * 37, in.begin() + (b + 1) * 3 * 37 * 37);
      std::vector<float> row = forward(m, one, 1, fast);
      std::vector<float> want_row(want.begin() + b * 10, want.begin() + (b + 1) * 10);
      CHECK(test::max_rel_diff(row, want_row) < 1e-5);
    }
  }
}

TEST_CASE("a batch runs in passes of images, the same bits at any pass size") {
  const int64_t batch = 7, size = 37;
  std::mt19937 rng(11);
  const std::vector<float> in = test::random_floats(rng, batch * 3 * size * size, -50, 50);
  for (double density : {1.0, 0.33}) {
    const Model m = test::tiny_squeezenet(3, size, 10, density);
    const std::vector<float> want = net_test::reference_forward(m, in, batch);
    for (int threads : {1, 2}) {
      runtime::NetOptions whole;
      whole.threads = threads;
      whole.images_per_pass = batch;
      const std::vector<float> first = forward(m, in, batch, whole);
      CHECK(test::max_rel_diff(first, want) < 1e-5);
      // 3: passes of 3, 3 and 1; 0: from the caches; 100: more than the batch.
      for (int64_t pass : {1, 2, 3, 0, 100}) {
        INFO("density " << density << ", threads " << threads << ", images_per_pass " << pass);
        runtime::NetOptions o = whole;
        o.images_per_pass = pass;
        auto net = runtime::Net::create(m, o);
        REQUIRE(net.is_ok());
        if (pass > 0) CHECK((*net)->images_per_pass() == pass);
        CHECK((*net)->images_per_pass() >= 1);
        std::map<std::string, int> hooked;  // the input hook sees every image once a layer
        (*net)->set_conv_input_hook(
            [&](const std::string& layer, const float*) { hooked[layer]++; });
        std::vector<float> got;
        REQUIRE((*net)->forward(in.data(), batch, &got).is_ok());
        CHECK(got == first);
        REQUIRE(!hooked.empty());
        for (const auto& [layer, calls] : hooked) CHECK(calls == batch);
        std::vector<float> two;  // a shorter batch after a longer one: the last pass's images
        REQUIRE((*net)->forward(in.data(), 2, &two).is_ok());
        CHECK(std::equal(two.begin(), two.end(), first.begin()));
      }
    }
  }
  runtime::NetOptions negative;
  negative.images_per_pass = -1;
  const auto refused = runtime::Net::create(test::tiny_squeezenet(3, size, 10), negative);
  CHECK(refused.status().code() == ErrorCode::kInvalidArgument);
  CHECK(refused.status().message().find("images_per_pass") != std::string::npos);
}

TEST_CASE("passes hold as many images as the threads' L2 caches, at least one") {
  const Model small = test::tiny_squeezenet(3, 19, 10), large = test::tiny_squeezenet(3, 227, 10);
  auto passes = [](const Model& m, int threads) {
    runtime::NetOptions o;
    o.threads = threads;
    auto net = runtime::Net::create(m, o);
    REQUIRE(net.is_ok());
    return (*net)->images_per_pass();
  };
  for (const test::Caches& c : test::other_machines()) {
    const kernels::Machine machine = test::described(c);
    const test::MachineScope scope(&machine);
    INFO(std::string(c.name));
    const int64_t one = passes(small, 1), two = passes(small, 2);
    CHECK(one >= 2);        // a 19x19 image's activations are a few KiB
    CHECK(two >= 2 * one);  // floor(2 L2 / a) is 2 floor(L2 / a) or one more
    CHECK(two <= 2 * one + 1);
    // 227x227: activations at least 100 times a 19x19 image's (143 times its area).
    CHECK(passes(large, 1) <= std::max<int64_t>(1, (one + 1) / 100));
  }
  // Twice the L2 a thread, about twice the images.
  test::Caches c = test::other_machines()[0];
  const kernels::Machine base = test::described(c);
  c.l2 *= 2;
  const kernels::Machine doubled = test::described(c);
  int64_t at_base, at_double;
  {
    const test::MachineScope scope(&base);
    at_base = passes(small, 1);
  }
  {
    const test::MachineScope scope(&doubled);
    at_double = passes(small, 1);
  }
  CHECK(at_double >= 2 * at_base);
  CHECK(at_double <= 2 * at_base + 1);
}

TEST_CASE("a batch whose activations pass the budget runs in passes that do not") {
  const Model m = test::tiny_squeezenet(3, 99, 10);
  std::mt19937 rng(12);
  const int64_t batch = 8;
  const std::vector<float> in = test::random_floats(rng, batch * 3 * 99 * 99, -50, 50);
  runtime::NetOptions one_pass;
  one_pass.images_per_pass = batch;
  const std::vector<float> want = forward(m, in, batch, one_pass);
  // The smallest budget (in 256 KiB steps) under which one image runs.
  int64_t budget = 256 << 10;
  for (;; budget += 256 << 10) {
    REQUIRE(budget < (256 << 20));
    runtime::NetOptions o;
    o.images_per_pass = 1;
    o.max_activation_bytes = budget;
    auto net = runtime::Net::create(m, o);
    if (net.is_ok() && (*net)->reserve(1).is_ok()) break;
  }
  runtime::NetOptions o;
  o.max_activation_bytes = budget;
  o.images_per_pass = batch;  // the whole batch at once needs about 8 times as much
  auto whole = runtime::Net::create(m, o);
  REQUIRE(whole.is_ok());
  std::vector<float> out;
  CHECK((*whole)->forward(in.data(), batch, &out).code() == ErrorCode::kLimit);
  o.images_per_pass = 1;
  auto passes = runtime::Net::create(m, o);
  REQUIRE(passes.is_ok());
  REQUIRE((*passes)->forward(in.data(), batch, &out).is_ok());
  CHECK(out == want);
}

TEST_CASE("a concat input read by another layer too is copied, not aliased") {
  Model m = test::tiny_squeezenet(4, 19, 10);
  // fire/relu_e1 feeds the concat and also a second concat at the head.
  Layer extra;
  extra.name = "head_concat";
  extra.op = OpKind::kConcat;
  extra.inputs = {"fire/relu_e1", "fire/relu_e1"};
  extra.output = "head_concat";
  Layer gap;
  gap.name = "head_pool";
  gap.op = OpKind::kAvgPool;
  gap.pool.global = true;
  gap.inputs = {"head_concat"};
  gap.output = "head_pool";
  m.layers.push_back(extra);
  m.layers.push_back(gap);
  m.output = "head_pool";
  std::mt19937 rng(1);
  std::vector<float> in = test::random_floats(rng, 3 * 19 * 19, -50, 50);
  runtime::NetOptions ref;
  ref.policy = runtime::KernelPolicy::kReference;
  std::vector<float> want = forward(m, in, 1, ref);
  CHECK(test::max_rel_diff(forward(m, in, 1, {}), want) < 1e-5);
  CHECK(want.size() == 12);
}

TEST_CASE("the arena plan never lets buffers live at once share memory") {
  std::mt19937 rng(12);
  for (int round = 0; round < 200; ++round) {
    const int n = 1 + static_cast<int>(rng() % 40);
    std::vector<runtime::BufferLife> lives;
    int64_t sum = 0;
    for (int i = 0; i < n; ++i) {
      const int64_t first = static_cast<int64_t>(rng() % 30) - 1, len = rng() % 6;
      lives.push_back({first, first + len, 1 + static_cast<int64_t>(rng() % 5000)});
      sum += (lives.back().floats + 15) / 16 * 16;
    }
    int64_t total = -1;
    const std::vector<int64_t> at = runtime::plan_arena(lives, &total);
    REQUIRE(at.size() == lives.size());
    int64_t end = 0;
    for (int i = 0; i < n; ++i) {
      CHECK(at[i] % 16 == 0);
      end = std::max(end, at[i] + lives[i].floats);
      for (int j = 0; j < i; ++j) {
        const bool together = lives[i].first <= lives[j].last && lives[j].first <= lives[i].last;
        const bool apart = at[i] + lives[i].floats <= at[j] || at[j] + lives[j].floats <= at[i];
        CHECK((!together || apart));
      }
    }
    CHECK(total >= end);
    CHECK(total <= sum);
  }
  // Buffers never live together all start at 0.
  int64_t total = 0;
  CHECK(runtime::plan_arena({{0, 1, 100}, {2, 3, 50}, {4, 4, 7}}, &total) ==
        std::vector<int64_t>{0, 0, 0});
  CHECK(total == 112);
}

TEST_CASE("the rule runs the SpMM up to sparse_max_density and a dense kernel above it") {
  Model m = test::tiny_squeezenet(6, 37, 10, 0.6);  // layers drawn around 60% dense
  std::mt19937 rng(6);
  const std::vector<float> in = test::random_floats(rng, 3 * 37 * 37, -50, 50);
  runtime::NetOptions ref;
  ref.policy = runtime::KernelPolicy::kReference;
  const std::vector<float> want = forward(m, in, 1, ref);
  int sparse = 0, dense = 0;
  for (double line : {0.0, 0.5, 0.6, runtime::NetOptions{}.sparse_max_density, 1.0}) {
    runtime::NetOptions o;
    o.sparse_max_density = line;
    auto net = runtime::Net::create(m, o);
    REQUIRE(net.is_ok());
    std::vector<float> out;
    REQUIRE((*net)->forward(in.data(), 1, &out).is_ok());
    CHECK(test::max_rel_diff(out, want) < 1e-5);
    for (const runtime::LayerProfile& l : (*net)->profile()) {
      if (l.plan != "rule") continue;  // not a convolution
      INFO(l.name << " density " << l.density << " line " << line << ": " << l.kernel);
      const bool is_sparse = l.kernel.rfind("spmm", 0) == 0;
      CHECK(is_sparse == (l.density <= line));
      CHECK((is_sparse || l.kernel.rfind("gemm", 0) == 0 || l.kernel.rfind("direct", 0) == 0));
      (is_sparse ? sparse : dense)++;
    }
  }
  CHECK(sparse > 5);
  CHECK(dense > 5);
  // The default lies below the lowest crossover bench/crossover_model.py models (0.66).
  CHECK(runtime::NetOptions{}.sparse_max_density < 0.66);
  for (double bad : {-0.01, 1.5, std::nan("")}) {
    runtime::NetOptions o;
    o.sparse_max_density = bad;
    auto net = runtime::Net::create(m, o);
    REQUIRE(!net.is_ok());
    CHECK(net.status().code() == ErrorCode::kInvalidArgument);
    CHECK(net.status().message().find("sparse_max_density must be a fraction in [0, 1]") == 0);
  }
}

// The runtime planned as on CPUs not at hand: every blocking parameter it derives from the
// machine description (im2col column blocks and the shared-im2col limit from the L2, the
// pooled bands of a fused stem from the L2, the SpMM's K chunk from the L1d) is tried with the
// caches of other CPUs, and of none, through kernels::set_machine_for_testing.
TEST_CASE("plans from other CPUs' caches give the reference's outputs, the same bits per L1d") {
  const int64_t size = 67, batch = 2;
  std::mt19937 rng(30);
  const std::vector<float> in = test::random_floats(rng, batch * 3 * size * size, -50, 50);
  // Dense: the direct stem with its pooling fused; 40%: every layer on the SpMM.
  for (double density : {1.0, 0.4}) {
    const Model model = test::tiny_squeezenet(30, size, 10, density);
    const std::vector<float> want = net_test::reference_forward(model, in, batch);
    // The SpMM's K chunk follows a thread's L1d share alone.
    std::map<int64_t, std::vector<float>> by_l1d;
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
      const int64_t l1d = kernels::l1d_per_thread(kernels::machine());
      auto [seen, added] = by_l1d.emplace(l1d, first);
      INFO(c.name << ", density " << density << ": against the first of L1d share " << l1d);
      CHECK(seen->second == first);  // the L2, L3 and their sharing change the blocking only
    }
    // 48 KiB, 32 KiB (also none and implausible), 24 and 16 KiB (SMT), 8 KiB: each K chunk.
    CHECK(by_l1d.size() == 5);
  }
  CHECK(kernels::machine().model_name != test::other_machines()[0].name);  // the real machine again
}

TEST_CASE("a NaN or an infinity in the input is refused, naming the image; the net runs on") {
  // ReLU and max pooling keep the other operand of a NaN, so the scores would look like an
  // answer (a wrong answer, where ONNX Runtime would give NaN).
  Model m = test::tiny_squeezenet(2, 19, 10);
  std::mt19937 rng(3);
  std::vector<float> in = test::random_floats(rng, 2 * 3 * 19 * 19, -50, 50);
  for (auto policy : {runtime::KernelPolicy::kReference, runtime::KernelPolicy::kAuto}) {
    runtime::NetOptions o;
    o.policy = policy;
    auto net = runtime::Net::create(m, o);
    REQUIRE(net.is_ok());
    std::vector<float> good;
    REQUIRE((*net)->forward(in.data(), 2, &good).is_ok());
    // Finite extremes pass: only an all-ones exponent is refused.
    for (const float edge : {FLT_MAX, -FLT_MAX, std::numeric_limits<float>::denorm_min(), -0.0f}) {
      std::vector<float> x = in, out;
      x[3 * 19 * 19 + 17] = edge;
      CHECK((*net)->forward(x.data(), 2, &out).is_ok());
    }
    for (const float bad : {std::nanf(""), -std::nanf(""), INFINITY, -INFINITY}) {
      std::vector<float> x = in, out;
      x[3 * 19 * 19 + 17] = bad;
      const Status s = (*net)->forward(x.data(), 2, &out);
      CHECK(s.code() == ErrorCode::kInvalidArgument);
      CHECK(s.message().find("input value 17 of image 1 is") != std::string::npos);
      x = in;  // the last value: past the scan's whole 16-float blocks (2 x 1,083 values)
      x.back() = bad;
      const Status last = (*net)->forward(x.data(), 2, &out);
      CHECK(last.code() == ErrorCode::kInvalidArgument);
      CHECK(last.message().find("input value 1082 of image 1 is") != std::string::npos);
    }
    std::vector<float> again;
    REQUIRE((*net)->forward(in.data(), 2, &again).is_ok());
    CHECK(again == good);
  }
}

TEST_CASE("an output that overflows float32 is refused, naming the image; the net runs on") {
  // Finite inputs, a sum past FLT_MAX: the scores would be infinities or NaNs (and past a ReLU
  // or a max pooling, a NaN becomes a number). Every kernel policy reports it.
  const Model m = test::uniform_1x1(2, 3, 4, 2.0f);
  std::vector<float> in(2 * 2 * 4 * 4, 0.25f);
  for (auto policy : {runtime::KernelPolicy::kReference, runtime::KernelPolicy::kAuto,
                      runtime::KernelPolicy::kDense, runtime::KernelPolicy::kSparse}) {
    runtime::NetOptions o;
    o.policy = policy;
    auto net = runtime::Net::create(m, o);
    REQUIRE(net.is_ok());
    std::vector<float> good, out;
    REQUIRE((*net)->forward(in.data(), 2, &good).is_ok());
    CHECK(good[0] == 1.0f);
    std::vector<float> x = in;
    x[2 * 4 * 4 + 5] = FLT_MAX;  // image 1, channel 0, pixel 5: every output channel's pixel 5
    const Status s = (*net)->forward(x.data(), 2, &out);
    CHECK(s.code() == ErrorCode::kLimit);
    CHECK(s.message().find("output value 5 of image 1 is infinite") != std::string::npos);
    x[2 * 4 * 4 + 5] = FLT_MAX / 4;  // 2 x FLT_MAX / 4 - 2 x FLT_MAX / 8: large, finite
    x[2 * 4 * 4 + 16 + 5] = -FLT_MAX / 8;
    CHECK((*net)->forward(x.data(), 2, &out).is_ok());
    std::vector<float> again;
    REQUIRE((*net)->forward(in.data(), 2, &again).is_ok());
    CHECK(again == good);
  }
}

TEST_CASE("softmax output sums to one") {
  Model m = test::tiny_squeezenet(2, 19, 10);
  Layer sm;
  sm.name = "prob";
  sm.op = OpKind::kSoftmax;
  sm.inputs = {"pool_final"};
  sm.output = "prob";
  m.layers.push_back(sm);
  m.output = "prob";
  std::mt19937 rng(1);
  std::vector<float> out = forward(m, test::random_floats(rng, 3 * 19 * 19, -50, 50), 1, {});
  double sum = 0;
  for (float v : out) sum += v;
  CHECK(sum == doctest::Approx(1.0).epsilon(1e-5));
}

TEST_CASE("a cgroup v2 CPU quota gives the CPUs it allows, rounded up") {
  CHECK(runtime::cpus_of_cgroup_quota("200000 100000") == 2);
  CHECK(runtime::cpus_of_cgroup_quota("150000 100000\n") == 2);
  CHECK(runtime::cpus_of_cgroup_quota("50000 100000") == 1);
  CHECK(runtime::cpus_of_cgroup_quota("max 100000") == 0);
  for (const char* bad : {"", "100000", "abc 100000", "100000 0", "-5 100000", "1e400 1", "5x 10"})
    CHECK(runtime::cpus_of_cgroup_quota(bad) == 0);
  CHECK(runtime::cpus_of_cgroup_quota("1e300 1") == 1000000);
  CHECK(runtime::cpus_of_cgroup_quota("-1 100000") == 0);  // cgroup v1's "no limit"
}

TEST_CASE("cgroup CPU limits are found under either version, on the cgroup and its ancestors") {
  std::map<std::string, std::string> files;
  auto read = [&](const std::string& path) {
    auto it = files.find(path);
    return it == files.end() ? std::string() : it->second;
  };
  // A cgroup v2 host (systemd, Kubernetes): the quota on a parent slice binds the leaf.
  const std::string v2_mounts =
      "24 1 0:22 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n";
  const std::string v2_self = "0::/user.slice/app.scope\n";
  CHECK(runtime::cgroup_cpu_limit(v2_self, v2_mounts, read) == 0);
  files["/sys/fs/cgroup/user.slice/app.scope/cpu.max"] = "max 100000";
  files["/sys/fs/cgroup/user.slice/cpu.max"] = "250000 100000";
  CHECK(runtime::cgroup_cpu_limit(v2_self, v2_mounts, read) == 3);
  files["/sys/fs/cgroup/user.slice/app.scope/cpu.max"] = "100000 100000";
  CHECK(runtime::cgroup_cpu_limit(v2_self, v2_mounts, read) == 1);
  CHECK(runtime::cgroup_cpu_limit("0::/../etc\n", v2_mounts, read) == 0);  // not followed
  // Docker on a cgroup v1 host: the cpu controller mounted with cpuacct; inside a cgroup
  // namespace the container's path shows as "/", outside it as the host's.
  files.clear();
  const std::string v1_mounts =
      "31 23 0:28 / /sys/fs/cgroup ro - tmpfs tmpfs ro,mode=755\n"
      "33 31 0:30 /docker/abc /sys/fs/cgroup/cpu,cpuacct ro - cgroup cgroup rw,cpu,cpuacct\n"
      "41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n";
  files["/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us"] = "150000";
  files["/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us"] = "100000";
  CHECK(runtime::cgroup_cpu_limit("4:cpu,cpuacct:/\n0::/\n", v1_mounts, read) == 2);
  CHECK(runtime::cgroup_cpu_limit("4:cpu,cpuacct:/docker/abc\n0::/\n", v1_mounts, read) == 2);
  files["/sys/fs/cgroup/cpu,cpuacct/x/cpu.cfs_quota_us"] = "50000";  // below the mount's root
  files["/sys/fs/cgroup/cpu,cpuacct/x/cpu.cfs_period_us"] = "100000";
  CHECK(runtime::cgroup_cpu_limit("4:cpu,cpuacct:/docker/abc/x\n", v1_mounts, read) == 1);
  CHECK(runtime::cgroup_cpu_limit("4:cpu,cpuacct:/docker/abcx\n", v1_mounts, read) == 2);
  CHECK(runtime::cgroup_cpu_limit("4:cpu,cpuacct:relative\n", v1_mounts, read) == 2);
  files["/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us"] = "-1";
  CHECK(runtime::cgroup_cpu_limit("4:cpu,cpuacct:/\n", v1_mounts, read) == 0);
  // Neither hierarchy mounted, or the process in none: no limit.
  CHECK(runtime::cgroup_cpu_limit("", "", read) == 0);
  CHECK(runtime::cgroup_cpu_limit("4:memory:/x\n", v1_mounts, read) == 0);
  // This machine's own files read without error; usable_cpus() stays at least 1 whatever they say.
  CHECK(runtime::own_cgroup_cpu_limit() >= 0);
  CHECK(runtime::usable_cpus() >= 1);
}

TEST_CASE("the thread pool covers every index once, with distinct thread indices at a time") {
  // The last pool has more threads than the process may run at once: its threads never spin.
  const int cpus = runtime::usable_cpus();
  CHECK(cpus >= 1);
  if (std::thread::hardware_concurrency() > 0)
    CHECK(cpus <= static_cast<int>(std::thread::hardware_concurrency()));
  for (int threads : {1, 2, 3, 5, cpus + 2}) {
    auto made = runtime::ThreadPool::create(threads);
    REQUIRE(made.is_ok());
    runtime::ThreadPool& pool = **made;
    for (int64_t n : {0, 1, 2, 7, 64, 1000}) {
      for (int call = 0; call < 50; ++call) {
        std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
        std::vector<std::atomic<int>> busy(static_cast<size_t>(threads));
        std::atomic<bool> clash{false}, bad_index{false};
        pool.parallel_for(n, [&](int64_t begin, int64_t end, int t) {
          if (t < 0 || t >= threads) {
            bad_index = true;
            return;
          }
          if (busy[static_cast<size_t>(t)].fetch_add(1) != 0) clash = true;
          for (int64_t i = begin; i < end; ++i) hits[static_cast<size_t>(i)].fetch_add(1);
          busy[static_cast<size_t>(t)].fetch_sub(1);
        });
        INFO("threads " << threads << " n " << n);
        REQUIRE_FALSE(bad_index);
        CHECK_FALSE(clash);
        for (const auto& h : hits) REQUIRE(h.load() == 1);
      }
    }
  }
}

TEST_CASE("the thread pool cuts every call of a size into the same chunks") {
  for (int threads : {2, 3}) {
    auto made = runtime::ThreadPool::create(threads);
    REQUIRE(made.is_ok());
    for (int64_t n : {5, 64, 1000}) {
      std::vector<std::pair<int64_t, int64_t>> first;
      for (int call = 0; call < 50; ++call) {
        std::mutex mu;
        std::vector<std::pair<int64_t, int64_t>> ranges;
        (*made)->parallel_for(n, [&](int64_t begin, int64_t end, int) {
          std::lock_guard<std::mutex> lock(mu);
          ranges.emplace_back(begin, end);
        });
        std::sort(ranges.begin(), ranges.end());
        if (call == 0) first = ranges;
        INFO("threads " << threads << " n " << n << " call " << call);
        REQUIRE(ranges == first);  // results never depend on which thread ran what
      }
    }
  }
}

TEST_CASE("a thread held up in its chunk does not hold up the rest of its share") {
  auto made = runtime::ThreadPool::create(2);
  REQUIRE(made.is_ok());
  for (int call = 0; call < 20; ++call) {
    // The worker's chunk waits until the caller has run a chunk of the worker's half: the
    // caller must take over the rest of that share (a static split would wait for the timeout).
    const int64_t n = 64;
    std::atomic<bool> caller_took_over{false}, timed_out{false};
    (*made)->parallel_for(n, [&](int64_t begin, int64_t, int t) {
      if (t == 0) {
        if (begin >= n / 2) caller_took_over = true;
        return;
      }
      const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      while (!caller_took_over.load()) {
        if (std::chrono::steady_clock::now() > until) {
          timed_out = true;
          return;
        }
        std::this_thread::sleep_for(std::chrono::microseconds(100));
      }
    });
    REQUIRE_FALSE(timed_out);
  }
}

// The runtime's 0.1 namespace name stays usable.
static_assert(std::is_same_v<sqz::rt::Net, sqz::runtime::Net>);
