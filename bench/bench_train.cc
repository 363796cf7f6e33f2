// Training throughput of the embedded default's network (images/s), 1 and 2 threads, on
// random 28x28 inputs (the data does not change the work). usage: bench_train [--steps N]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

#include "bench_args.h"
#include "fashion.h"
#include "sqz/kernels/machine.h"
#include "sqz/train/trainer.h"

namespace {

constexpr const char* kUsage =
    "usage: bench_train [--steps N]   (timed steps of 64 images, 1..100000; default 40)\n";

}  // namespace

int main(int argc, char** argv) {
  int64_t steps = 40;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (arg == "--steps" && i + 1 < argc) {
      if (!sqz::bench::parse_int(argv[++i], 1, 100000, &steps))
        return sqz::bench::bad_option("bench_train", "--steps", "1 to 100000", argv[i]);
      continue;
    }
    std::fprintf(stderr, "bench_train: unknown or incomplete option '%s' (--help)\n", argv[i]);
    return 2;
  }
  const int64_t batch = 64;
  std::mt19937 rng(1);
  std::normal_distribution<float> d(0, 1);
  std::vector<float> x(batch * 784);
  for (float& v : x) v = d(rng);
  std::vector<int> y(batch);
  for (int64_t i = 0; i < batch; ++i) y[i] = static_cast<int>(i % 10);
  std::fputs(sqz::kernels::describe_machine(sqz::kernels::machine()).c_str(), stdout);
  for (int threads : {1, 2}) {
    sqz::Model m = sqz::sample::fashion_squeezenet(1);
    sqz::train::TrainOptions o;
    o.threads = threads;
    auto trainer = sqz::train::Trainer::create(&m, o);
    if (!trainer.is_ok()) {
      std::fprintf(stderr, "bench_train: %s\n", trainer.status().message().c_str());
      return 1;
    }
    auto step = [&]() {
      auto loss = (*trainer)->step(x.data(), y.data(), nullptr, batch);
      if (loss.is_ok()) return true;
      std::fprintf(stderr, "bench_train: %s\n", loss.status().message().c_str());
      return false;
    };
    for (int w = 0; w < 3; ++w)
      if (!step()) return 1;
    const auto t0 = std::chrono::steady_clock::now();
    for (int64_t s = 0; s < steps; ++s)
      if (!step()) return 1;
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("fashion-squeezenet training, batch %lld, %d thread(s): %.0f images/s\n",
                (long long)batch, threads, steps * batch / secs);
  }
  return 0;
}
