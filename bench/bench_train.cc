// Training throughput (images/s) of the embedded default's network, or of a model file, on
// random inputs of the model's shape (the data does not change the work): a step is the
// forward pass, cross-entropy, the backward pass and Adam, with the trainer's defaults
// (dropout 0.5). 1 and 2 threads, or the thread count asked for. bench/train_peer.sh times
// PyTorch on the same network and batch beside it.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "bench_args.h"
#include "fashion.h"
#include "sqz/import/importers.h"
#include "sqz/kernels/machine.h"
#include "sqz/train/trainer.h"

namespace {

constexpr const char* kUsage =
    "usage: bench_train [--steps N] [--model FILE] [--batch N] [--threads N]\n"
    "  --steps N    timed steps, 1..100000 (default 40)\n"
    "  --model F    an .onnx, or a .caffemodel with its .prototxt beside it, instead of the\n"
    "               embedded default's network (Fashion-MNIST SqueezeNet, random weights)\n"
    "  --batch N    images a step, 1..1024 (default 64)\n"
    "  --threads N  1..256 (default: 1, then 2)\n";

struct Settings {
  int64_t steps = 40, batch = 64, threads = 0;  // threads 0: 1, then 2
  std::string model;
};

// Reads the options into s. Returns -1 to go on, else the exit status (0 after --help).
int parse_options(int argc, char** argv, Settings* s) {
  using sqz::bench::bad_option;
  using sqz::bench::parse_int;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    const bool known =
        arg == "--steps" || arg == "--model" || arg == "--batch" || arg == "--threads";
    if (!known || i + 1 == argc) {
      std::fprintf(stderr, "bench_train: unknown or incomplete option '%s' (--help)\n", argv[i]);
      return 2;
    }
    const char* value = argv[++i];
    if (arg == "--model") {
      s->model = value;
    } else if (arg == "--steps" && !parse_int(value, 1, 100000, &s->steps)) {
      return bad_option("bench_train", "--steps", "1 to 100000", value);
    } else if (arg == "--batch" && !parse_int(value, 1, 1024, &s->batch)) {
      return bad_option("bench_train", "--batch", "1 to 1024", value);
    } else if (arg == "--threads" && !parse_int(value, 1, 256, &s->threads)) {
      return bad_option("bench_train", "--threads", "1 to 256", value);
    }
  }
  return -1;
}

// The network to train: the model file's, or the embedded default's.
sqz::Result<sqz::Model> load_network(const Settings& s) {
  if (s.model.empty()) return sqz::sample::fashion_squeezenet(1);
  return sqz::import::load_model(s.model);
}

// Images a second of `steps` training steps after 3 untimed ones (labels: image i is class
// i modulo the classes), or a negative number after printing the trainer's error.
double images_per_second(const sqz::Model& network, const Settings& s, int threads,
                         const std::vector<float>& x) {
  sqz::Model m = network;  // each thread count starts from the same weights
  sqz::train::TrainOptions o;
  o.threads = threads;
  auto trainer = sqz::train::Trainer::create(&m, o);
  if (!trainer.is_ok()) {
    std::fprintf(stderr, "bench_train: %s\n", trainer.status().message().c_str());
    return -1;
  }
  std::vector<int> y(static_cast<size_t>(s.batch));
  for (size_t i = 0; i < y.size(); ++i)
    y[i] = static_cast<int>(static_cast<int64_t>(i) % (*trainer)->classes());
  auto step = [&] {
    auto loss = (*trainer)->step(x.data(), y.data(), nullptr, s.batch);
    if (!loss.is_ok()) std::fprintf(stderr, "bench_train: %s\n", loss.status().message().c_str());
    return loss.is_ok();
  };
  for (int w = 0; w < 3; ++w)
    if (!step()) return -1;
  const auto t0 = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < s.steps; ++i)
    if (!step()) return -1;
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return static_cast<double>(s.steps * s.batch) / secs;
}

}  // namespace

int main(int argc, char** argv) {
  Settings s;
  if (const int status = parse_options(argc, argv, &s); status >= 0) return status;
  auto network = load_network(s);
  if (!network.is_ok()) {
    std::fprintf(stderr, "bench_train: %s\n", network.status().message().c_str());
    return 1;
  }
  const sqz::Shape& shape = network->input_shape;
  int64_t per_image = 1;
  for (size_t d = 1; d < shape.size(); ++d) per_image *= shape[d];
  if (shape.size() != 4 || per_image <= 0 || per_image > (int64_t{1} << 24)) {
    std::fprintf(stderr, "bench_train: %s: the input is not one image of fixed size (NCHW)\n",
                 s.model.c_str());
    return 1;
  }
  if (s.batch * per_image > (int64_t{1} << 28)) {  // the inputs alone past 1 GiB
    std::fprintf(stderr,
                 "bench_train: --batch %lld of %lld floats an image: past 1 GiB of inputs\n",
                 static_cast<long long>(s.batch), static_cast<long long>(per_image));
    return 2;
  }
  std::mt19937 rng(1);
  std::normal_distribution<float> d(0, 1);
  std::vector<float> x(static_cast<size_t>(s.batch * per_image));
  for (float& v : x) v = d(rng);
  std::fputs(sqz::kernels::describe_machine(sqz::kernels::machine()).c_str(), stdout);
  const std::string name = s.model.empty() ? network->name : s.model;
  for (int threads :
       s.threads > 0 ? std::vector<int>{static_cast<int>(s.threads)} : std::vector<int>{1, 2}) {
    const double rate = images_per_second(*network, s, threads, x);
    if (rate < 0) return 1;
    std::printf("%s training, batch %lld, %d thread(s): %.1f images/s\n", name.c_str(),
                static_cast<long long>(s.batch), threads, rate);
  }
  return 0;
}
