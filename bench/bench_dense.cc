// Latency of the dense runtime: median over runs after warm-up, per thread count.
// usage: bench_dense [MODEL] [--prototxt P] [--runs N] [--batch B] [--threads T,...]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "sqz/import/importers.h"
#include "sqz/runtime/net.h"

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

}  // namespace

int main(int argc, char** argv) {
  std::string model_path =
      "../shared/models/squeezenet_v1.0_deep_compression/squeezenet_v1.0_dc.onnx";
  std::string prototxt;
  int runs = 30, batch = 1;
  std::vector<int> threads{1, 2};
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (a == "--runs")
      runs = std::atoi(next().c_str());
    else if (a == "--batch")
      batch = std::atoi(next().c_str());
    else if (a == "--prototxt")
      prototxt = next();
    else if (a == "--threads") {
      threads.clear();
      std::string list = next();
      for (size_t p = 0; p < list.size();) {
        threads.push_back(std::atoi(list.c_str() + p));
        p = list.find(',', p);
        p = p == std::string::npos ? list.size() : p + 1;
      }
    } else
      model_path = a;
  }
  auto model = sqz::import::load_model(model_path, prototxt);
  if (!model.is_ok()) {
    std::fprintf(stderr, "bench_dense: %s\n", model.status().message().c_str());
    return 1;
  }
  std::printf("model %s, batch %d, %d runs after 3 warm-up\n", model_path.c_str(), batch, runs);
  for (int t : threads) {
    sqz::runtime::NetOptions opts;
    opts.threads = t;
    auto net = sqz::runtime::Net::create(*model, opts);
    if (!net.is_ok()) {
      std::fprintf(stderr, "bench_dense: %s\n", net.status().message().c_str());
      return 1;
    }
    const auto& chw = (*net)->input_chw();
    std::vector<float> in(static_cast<size_t>(batch * chw[0] * chw[1] * chw[2]));
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> u(-100, 100);
    for (float& x : in) x = u(rng);
    std::vector<float> out;
    for (int w = 0; w < 3; ++w) (void)(*net)->forward(in.data(), batch, &out);
    (*net)->set_profiling(true);
    std::vector<double> ms;
    for (int r = 0; r < runs; ++r) {
      auto t0 = std::chrono::steady_clock::now();
      (void)(*net)->forward(in.data(), batch, &out);
      ms.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    double flops = 0;
    if (t == threads.front()) {
      std::printf("\n%-36s %-22s %9s %9s\n", "layer", "kernel", "ms", "GFLOP/s");
      for (const auto& p : (*net)->profile()) {
        if (p.kernel == "alias") continue;
        const double layer_ms = 1e3 * p.seconds / runs;
        std::printf("%-36s %-22s %9.3f %9.1f\n", p.name.c_str(), p.kernel.c_str(), layer_ms,
                    p.flops > 0 && layer_ms > 0 ? batch * p.flops / (layer_ms * 1e6) : 0.0);
      }
    }
    for (const auto& p : (*net)->profile()) flops += p.flops;
    const double med = median(ms);
    std::printf("threads %d: median %.2f ms  min %.2f ms  max %.2f ms  (%.1f GFLOP/s dense)\n", t,
                med, *std::min_element(ms.begin(), ms.end()),
                *std::max_element(ms.begin(), ms.end()), batch * flops / (med * 1e6));
  }
  return 0;
}
