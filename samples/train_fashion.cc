// Trains the embedded default from scratch, deterministically for a given seed and thread
// count. The committed samples/fashion_squeezenet.onnx was made by:
//   build/samples/train_fashion --epochs 8 --seed 2016 --threads 2 -o
//   samples/fashion_squeezenet.onnx --force
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <numeric>
#include <string>

#include "fashion.h"
#include "sqz/core/file_io.h"
#include "sqz/import/exporters.h"
#include "sqz/train/idx.h"
#include "sqz/train/trainer.h"

namespace {

using namespace sqz;

constexpr int64_t kBatch = 64;

struct Args {
  int epochs = 8, threads = 2;
  uint64_t seed = 2016;
  std::string out, data = train::kFashionMnistDir;
  bool force = false;
};

constexpr const char* kUsage =
    "usage: train_fashion [--epochs N] [--seed S] [--threads T] [--data DIR] -o OUT.onnx "
    "[--force]";

bool parse(int argc, char** argv, Args* a) {
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--force") {
      a->force = true;
      continue;
    }
    const bool takes_value =
        flag == "--epochs" || flag == "--threads" || flag == "--seed" || flag == "--data" ||
        flag == "-o";
    if (!takes_value || i + 1 >= argc) {
      std::fprintf(stderr, "%s\n", kUsage);
      return false;
    }
    const std::string v = argv[++i];
    const char* me = "train_fashion";
    if (flag == "--epochs" && !sample::parse_number(me, flag, v, 1, 1000, &a->epochs)) return false;
    if (flag == "--threads" && !sample::parse_number(me, flag, v, 1, 256, &a->threads))
      return false;
    if (flag == "--seed" && !sample::parse_number(me, flag, v, 0, 9007199254740992.0, &a->seed))
      return false;
    if (flag == "--data") a->data = v;
    if (flag == "-o") a->out = v;
  }
  if (a->out.empty()) {
    std::fprintf(stderr, "train_fashion: give -o OUT.onnx\n");
    return false;
  }
  if (!a->force && std::filesystem::exists(a->out)) {
    std::fprintf(stderr, "train_fashion: %s already exists (use --force to overwrite)\n",
                 a->out.c_str());
    return false;
  }
  return true;
}

// The recipe the committed model was trained with: Adam, cosine schedule, dropout.
train::TrainOptions train_options(const Args& a, int64_t total_steps) {
  train::TrainOptions o;
  o.optimizer = train::Optimizer::kAdam;
  o.learning_rate = 2e-3;
  o.weight_decay = 5e-5;
  o.dropout = 0.2;
  o.threads = a.threads;
  o.seed = a.seed;
  o.schedule = train::LrSchedule::kCosine;
  o.total_steps = total_steps;
  return o;
}

// One pass over the training images in a seeded order, mirrored at random; the mean loss.
Result<double> train_epoch(train::Trainer& trainer, const sample::Split& split, const Args& a,
                           int e, int64_t steps) {
  std::vector<int64_t> order(static_cast<size_t>(split.count));
  std::mt19937_64 rng(a.seed * 7919 + static_cast<uint64_t>(e));
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), rng);
  std::vector<float> x;
  std::vector<int> y;
  double loss = 0;
  for (int64_t s = 0; s < steps; ++s) {
    sample::make_batch(split, order, s * kBatch, (s + 1) * kBatch, true, rng, &x, &y);
    SQZ_ASSIGN_OR_RETURN(const double step_loss, trainer.step(x.data(), y.data(), nullptr, kBatch));
    loss += step_loss;
    if (s % 100 == 0)
      std::fprintf(stderr, "\repoch %d/%d  step %lld/%lld  loss %.4f ", e + 1, a.epochs,
                   (long long)s, (long long)steps, loss / (s + 1));
  }
  return loss / static_cast<double>(steps);
}

int fail(const Status& s) {
  std::fprintf(stderr, "train_fashion: %s\n", s.message().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    if (std::string(argv[i]) == "--help" || std::string(argv[i]) == "-h") {
      std::printf("%s\n", kUsage);
      return 0;
    }
  Args a;
  if (!parse(argc, argv, &a)) return 2;
  auto train_set = sample::load_split(a.data, "train");
  if (!train_set.is_ok()) return fail(train_set.status());
  auto test_set = sample::load_split(a.data, "t10k");
  if (!test_set.is_ok()) return fail(test_set.status());
  Model model = sample::fashion_squeezenet(a.seed);
  const int64_t steps_per_epoch = train_set->count / kBatch;
  auto trainer = train::Trainer::create(&model, train_options(a, steps_per_epoch * a.epochs));
  if (!trainer.is_ok()) return fail(trainer.status());
  std::vector<float> logits;
  const auto t0 = std::chrono::steady_clock::now();
  for (int e = 0; e < a.epochs; ++e) {
    auto loss = train_epoch(**trainer, *train_set, a, e, steps_per_epoch);
    if (!loss.is_ok()) return fail(loss.status());
    if (Status s = (*trainer)->predict(test_set->x.data(), test_set->count, &logits); !s.is_ok())
      return fail(s);
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::fprintf(stderr, "\repoch %d/%d  loss %.4f  test top-1 %.2f%%  (%.0f s, %.0f images/s)\n",
                 e + 1, a.epochs, *loss, 100 * sample::accuracy(logits, test_set->y), secs,
                 (e + 1) * steps_per_epoch * kBatch / secs);
  }
  auto bytes = import::export_onnx(model);
  Status s = bytes.is_ok() ? write_file_atomic(a.out, *bytes, true) : bytes.status();
  if (!s.is_ok()) return fail(s);
  std::printf("wrote %s\n", a.out.c_str());
  return 0;
}
