// Time to prune the release SqueezeNet v1.0 from its 33.4% to a total density of 0.25 with one
// global magnitude threshold, single thread. usage: bench_prune [MODEL] [--prototxt P]
#include <chrono>
#include <cstdio>
#include <string>

#include "sqz/import/importers.h"
#include "sqz/prune/prune.h"

int main(int argc, char** argv) {
  const std::string dir = "../shared/models/squeezenet_v1.0_deep_compression/";
  const std::string release = dir + "compressed_SqueezeNet.net";
  std::string model_path = release, prototxt;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--prototxt" && i + 1 < argc)
      prototxt = argv[++i];
    else
      model_path = a;
  }
  if (model_path == release && prototxt.empty()) prototxt = dir + "SqueezeNet_deploy.prototxt";
  auto model = sqz::import::load_model(model_path, prototxt);
  if (!model.is_ok()) {
    std::fprintf(stderr, "bench_prune: %s\n", model.status().message().c_str());
    return 1;
  }
  for (auto criterion : {sqz::prune::Criterion::kGlobalDensity, sqz::prune::Criterion::kDensity}) {
    sqz::Model m = *model;
    sqz::prune::PruneOptions o;
    o.criterion = criterion;
    o.density = 0.25;
    const double before = sqz::prune::total_density(m);
    const auto t0 = std::chrono::steady_clock::now();
    auto r = sqz::prune::prune_once(m, o);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!r.is_ok()) {
      std::fprintf(stderr, "bench_prune: %s\n", r.status().message().c_str());
      return 1;
    }
    std::printf(
        "%-15s density %.4f -> %.4f in %.3f s\n",
        criterion == sqz::prune::Criterion::kGlobalDensity ? "global 0.25" : "per-layer 0.25",
        before, sqz::prune::total_density(m), s);
  }
  return 0;
}
