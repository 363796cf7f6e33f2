// Training throughput of the embedded default's network (images/s), 1 and 2 threads, on
// random 28x28 inputs (the data does not change the work). usage: bench_train [--steps N]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

#include "fashion.h"
#include "sqz/kernels/machine.h"
#include "sqz/train/trainer.h"

int main(int argc, char** argv) {
  int steps = 40;
  if (argc == 3 && std::string(argv[1]) == "--steps") steps = std::atoi(argv[2]);
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
    if (!trainer.is_ok()) return 1;
    for (int w = 0; w < 3; ++w) (void)(*trainer)->step(x.data(), y.data(), nullptr, batch);
    const auto t0 = std::chrono::steady_clock::now();
    for (int s = 0; s < steps; ++s) (void)(*trainer)->step(x.data(), y.data(), nullptr, batch);
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("fashion-squeezenet training, batch %lld, %d thread(s): %.0f images/s\n",
                (long long)batch, threads, steps * batch / secs);
  }
  return 0;
}
