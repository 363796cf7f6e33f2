// Trains the embedded default from scratch, deterministically for a given seed and thread
// count. The committed samples/fashion_squeezenet.onnx was made by:
//   build/samples/train_fashion --epochs 8 --seed 2016 --threads 2 -o
//   samples/fashion_squeezenet.onnx
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <string>

#include "fashion.h"
#include "sqz/core/file_io.h"
#include "sqz/import/exporters.h"
#include "sqz/train/idx.h"
#include "sqz/train/trainer.h"

int main(int argc, char** argv) {
  int epochs = 8, threads = 2, batch = 64;
  uint64_t seed = 2016;
  std::string out, data = sqz::train::kFashionMnistDir;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (a == "--epochs")
      epochs = std::atoi(next().c_str());
    else if (a == "--threads")
      threads = std::atoi(next().c_str());
    else if (a == "--seed")
      seed = std::strtoull(next().c_str(), nullptr, 10);
    else if (a == "--data")
      data = next();
    else if (a == "-o")
      out = next();
    else {
      std::fprintf(
          stderr,
          "usage: train_fashion [--epochs N] [--seed S] [--threads T] [--data DIR] -o OUT.onnx\n");
      return 2;
    }
  }
  if (out.empty() || epochs < 1 || threads < 1) {
    std::fprintf(stderr, "train_fashion: give -o OUT.onnx, --epochs >= 1, --threads >= 1\n");
    return 2;
  }
  auto train_set = sqz::sample::load_split(data, "train");
  auto test_set = sqz::sample::load_split(data, "t10k");
  if (!train_set.is_ok() || !test_set.is_ok()) {
    std::fprintf(stderr, "train_fashion: %s\n",
                 (train_set.is_ok() ? test_set.status() : train_set.status()).message().c_str());
    return 1;
  }
  sqz::Model model = sqz::sample::fashion_squeezenet(seed);
  sqz::train::TrainOptions o;
  o.optimizer = sqz::train::Optimizer::kAdam;
  o.learning_rate = 2e-3;
  o.weight_decay = 5e-5;
  o.dropout = 0.2;
  o.threads = threads;
  o.seed = seed;
  o.schedule = sqz::train::LrSchedule::kCosine;
  const int64_t steps_per_epoch = train_set->count / batch;
  o.total_steps = steps_per_epoch * epochs;
  auto trainer = sqz::train::Trainer::create(&model, o);
  if (!trainer.is_ok()) {
    std::fprintf(stderr, "train_fashion: %s\n", trainer.status().message().c_str());
    return 1;
  }
  std::vector<int64_t> order(static_cast<size_t>(train_set->count));
  std::vector<float> x, logits;
  std::vector<int> y;
  const auto t0 = std::chrono::steady_clock::now();
  for (int e = 0; e < epochs; ++e) {
    std::mt19937_64 rng(seed * 7919 + static_cast<uint64_t>(e));
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), rng);
    double loss = 0;
    for (int64_t s = 0; s < steps_per_epoch; ++s) {
      sqz::sample::make_batch(*train_set, order, s * batch, (s + 1) * batch, true, rng, &x, &y);
      loss += (*trainer)->step(x.data(), y.data(), nullptr, batch).value();
      if (s % 100 == 0)
        std::fprintf(stderr, "\repoch %d/%d  step %lld/%lld  loss %.4f ", e + 1, epochs,
                     (long long)s, (long long)steps_per_epoch, loss / (s + 1));
    }
    (void)(*trainer)->predict(test_set->x.data(), test_set->count, &logits);
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::fprintf(stderr, "\repoch %d/%d  loss %.4f  test top-1 %.2f%%  (%.0f s, %.0f images/s)\n",
                 e + 1, epochs, loss / steps_per_epoch,
                 100 * sqz::sample::accuracy(logits, test_set->y), secs,
                 (e + 1) * steps_per_epoch * batch / secs);
  }
  auto bytes = sqz::import::export_onnx(model);
  sqz::Status s = bytes.is_ok() ? sqz::write_file_atomic(out, *bytes, true) : bytes.status();
  if (!s.is_ok()) {
    std::fprintf(stderr, "train_fashion: %s\n", s.message().c_str());
    return 1;
  }
  std::printf("wrote %s\n", out.c_str());
  return 0;
}
