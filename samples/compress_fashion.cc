// The main job on the embedded default: Deep Compression with retraining of the committed
// Fashion-MNIST SqueezeNet (prune iteratively with retraining -> k-means weight sharing ->
// centroid fine-tuning -> Huffman -> .sqz), every stage measured on the 10,000 test images
// by the runtime, the last one by running the .sqz file itself.
// usage: compress_fashion [--model ONNX] [--data DIR] [--out DIR] [--threads T] [--density D]
//                         [--bits B] [--steps N] [--retrain-steps K] [--finetune-steps K]
//                         [--lr LR] [--finetune-lr LR] [--distill ALPHA] [--schedule gradual|steps]
//                         [--granularity kernel|weight] [--pruned SQZ] [--quantize-at-once]
// --pruned starts from a pruned model that an earlier run wrote (OUT/fashion_squeezenet_pruned.sqz)
// instead of pruning again: for trying weight-sharing settings quickly.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <numeric>
#include <sstream>

#include "fashion.h"
#include "sqz/core/file_io.h"
#include "sqz/format/importers.h"
#include "sqz/format/paper_layout.h"
#include "sqz/format/sqz_file.h"
#include "sqz/prune/prune.h"
#include "sqz/quantize/quantize.h"
#include "sqz/runtime/net.h"
#include "sqz/train/idx.h"
#include "sqz/train/trainer.h"

namespace {

using namespace sqz;

struct Settings {
  std::string model = "samples/fashion_squeezenet.onnx", data = train::kFashionMnistDir,
              out = "build/samples", pruned;
  // Defaults: what fits the main job's 10 minutes on 2 cores (see README, "The embedded default").
  int threads = 2, bits = 3, steps = 4, retrain_steps = 1300, finetune_steps = 600;
  bool gradual = true;     // --schedule gradual (Zhu & Gupta) or steps (prune, retrain, repeat)
  bool kernels = true;     // --granularity kernel: 3x3 layers keep or lose whole kernels
  bool two_phases = true;  // 1x1 layers quantized first while the k x k layers adapt
  double density = 0.21, lr = 4e-3, distill = 0.5;  // distill: weight of the labels' loss
  double finetune_lr = 8e-3;
  uint64_t seed = 7;
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Top-1 on the test split, by the inference runtime.
Result<double> test_accuracy(const Model& m, const sample::Split& test, int threads) {
  rt::NetOptions o;
  o.threads = threads;
  SQZ_ASSIGN_OR_RETURN(auto net, rt::Net::create(m, o));
  std::vector<float> logits, out;
  const int64_t batch = 100;
  for (int64_t b = 0; b < test.count; b += batch) {
    const int64_t n = std::min(batch, test.count - b);
    SQZ_RETURN_IF_ERROR(net->forward(test.x.data() + b * 784, n, &out));
    logits.insert(logits.end(), out.begin(), out.end());
  }
  return sample::accuracy(logits, test.y);
}

// The teacher's logits for every training image in both forms the batches show it (as is and
// mirrored), each computed the first time a batch needs it: the retraining sees every image
// several times.
class TeacherCache {
 public:
  TeacherCache(const Model& teacher, int64_t images, int threads)
      : teacher_(teacher), threads_(threads) {
    logits_.resize(static_cast<size_t>(images * 2 * kClasses));
    known_.assign(static_cast<size_t>(images * 2), 0);
  }
  // x: the batch; ids[i] = 2 x image index + mirrored for its i-th image.
  Status lookup(const std::vector<float>& x, const std::vector<int64_t>& ids,
                std::vector<float>* out) {
    if (!net_) {  // the teacher only infers: the runtime is faster than the trainer
      rt::NetOptions no;
      no.threads = threads_;
      SQZ_ASSIGN_OR_RETURN(net_, rt::Net::create(teacher_, no));
    }
    std::vector<size_t> missing;
    for (size_t i = 0; i < ids.size(); ++i)
      if (!known_[static_cast<size_t>(ids[i])]) missing.push_back(i);
    if (!missing.empty()) {
      std::vector<float> in(missing.size() * kPixels), fresh;
      for (size_t j = 0; j < missing.size(); ++j)
        std::copy_n(x.data() + missing[j] * kPixels, kPixels, in.data() + j * kPixels);
      SQZ_RETURN_IF_ERROR(net_->forward(in.data(), static_cast<int64_t>(missing.size()), &fresh));
      for (size_t j = 0; j < missing.size(); ++j) {
        const auto id = static_cast<size_t>(ids[missing[j]]);
        std::copy_n(fresh.data() + j * kClasses, kClasses, logits_.data() + id * kClasses);
        known_[id] = 1;
      }
    }
    out->resize(ids.size() * kClasses);
    for (size_t i = 0; i < ids.size(); ++i)
      std::copy_n(logits_.data() + static_cast<size_t>(ids[i]) * kClasses, kClasses,
                  out->data() + i * kClasses);
    return Status::ok();
  }

 private:
  static constexpr size_t kPixels = 784, kClasses = 10;
  const Model& teacher_;
  int threads_;
  std::unique_ptr<rt::Net> net_;
  std::vector<float> logits_;
  std::vector<uint8_t> known_;
};

// Retraining between pruning steps with the built-in trainer (labels, Adam).
class TrainerHook : public prune::RetrainHook {
 public:
  // teacher: the uncompressed model, whose logits the student is distilled towards.
  TrainerHook(const sample::Split& data, const Settings& s, const Model& teacher)
      : data_(data), s_(s), teacher_(teacher, data.count, s.threads) {}
  Status retrain(Model& model, int step, int steps, bool after_quantization) override {
    return run(model, s_.retrain_steps, after_quantization,
               s_.seed * 100 + static_cast<uint64_t>(step), s_.lr,
               "retrain after pruning step " + std::to_string(step) + "/" + std::to_string(steps));
  }
  // before(i) runs ahead of optimizer step i (it may prune: the trainer reads the masks).
  Status run(Model& model, int n_steps, bool centroids, uint64_t seed, double lr,
             const std::string& label, const std::function<Status(int)>& before = {}) {
    train::TrainOptions o;
    o.learning_rate = lr;
    o.threads = s_.threads;
    o.seed = seed;
    o.dropout = 0.2;
    o.train_centroids = centroids;
    o.schedule = train::LrSchedule::kCosine;
    o.total_steps = n_steps;
    o.distill_alpha = s_.distill;
    o.distill_temperature = 4.0;
    SQZ_ASSIGN_OR_RETURN(auto trainer, train::Trainer::create(&model, o));
    std::vector<float> soft;
    std::vector<int64_t> order(static_cast<size_t>(data_.count));
    std::iota(order.begin(), order.end(), 0);
    std::mt19937_64 rng(seed);
    std::shuffle(order.begin(), order.end(), rng);
    std::vector<float> x;
    std::vector<int> y;
    std::vector<uint8_t> mirrored;
    std::vector<int64_t> ids;
    const int64_t batch = 64;
    double loss = 0;
    for (int i = 0; i < n_steps; ++i) {
      if (before) SQZ_RETURN_IF_ERROR(before(i));
      const int64_t at = (i * batch) % (data_.count - batch);
      sample::make_batch(data_, order, at, at + batch, true, rng, &x, &y, &mirrored);
      if (s_.distill < 1) {
        ids.resize(static_cast<size_t>(batch));
        for (int64_t k = 0; k < batch; ++k)
          ids[k] = 2 * order[static_cast<size_t>(at + k)] + mirrored[static_cast<size_t>(k)];
        SQZ_RETURN_IF_ERROR(teacher_.lookup(x, ids, &soft));
      }
      SQZ_ASSIGN_OR_RETURN(double l, trainer->step(x.data(), y.data(),
                                                   s_.distill < 1 ? soft.data() : nullptr, batch));
      loss += l;
      if (i % 50 == 0 || i + 1 == n_steps)
        std::fprintf(stderr, "\r  %s: step %d/%d, loss %.4f   ", label.c_str(), i + 1, n_steps,
                     loss / (i + 1));
    }
    std::fprintf(stderr, "\n");
    return Status::ok();
  }

 private:
  const sample::Split& data_;
  const Settings& s_;
  TeacherCache teacher_;
};

// Gradual pruning (Zhu & Gupta 2017, Sec. 3): one training run of steps x retrain_steps
// optimizer steps in which the density falls along the cubic schedule every kPruneEvery steps
// over the first two thirds; the sparse network then trains on as the learning rate decays.
Status prune_gradually(Model& m, const prune::PruneOptions& target, TrainerHook& hook,
                       const Settings& s) {
  constexpr int kPruneEvery = 50;
  const int total = s.steps * s.retrain_steps, events = std::max(1, total * 2 / 3 / kPruneEvery);
  auto before = [&](int i) -> Status {
    if (i % kPruneEvery != 0 || i / kPruneEvery > events) return Status::ok();
    const int k = i / kPruneEvery;
    prune::PruneOptions o = target;
    o.density = prune::scheduled_density(1.0, target.density, k, events, target.schedule);
    for (auto& [name, d] : o.layer_density)
      d = prune::scheduled_density(1.0, target.layer_density.at(name), k, events, target.schedule);
    return prune::prune_once(m, o).status();
  };
  return hook.run(m, total, false, s.seed * 100, s.lr, "gradual pruning", before);
}

bool is_pointwise(const Layer& l) { return l.conv.kernel_h * l.conv.kernel_w == 1; }

// Quantizes every convolution whose kind (1x1 or not) is `pointwise` and not yet quantized.
Status quantize_some(Model& m, const quant::QuantizeOptions& qo, bool pointwise) {
  for (Layer& l : m.layers) {
    if (l.op != OpKind::kConvolution || l.quant.active() || is_pointwise(l) != pointwise) continue;
    const auto bits = qo.layer_bits.find(l.name);
    SQZ_RETURN_IF_ERROR(
        quant::quantize_layer(l, bits == qo.layer_bits.end() ? qo.bits : bits->second, qo)
            .status());
  }
  return Status::ok();
}

// Weight sharing in two phases, in the spirit of incremental quantization (Zhou et al. 2017,
// INQ, Sec. 2: quantize part of the weights, retrain the rest, repeat), partitioned by layer:
// the 1x1 layers, which lose the most to 3-bit codes, are quantized first and the k x k layers
// retrain around them (half the fine-tuning steps at half the retraining rate); then the k x k
// layers are quantized too, for the centroid fine-tuning that follows.
Status quantize_pointwise_first(Model& m, const quant::QuantizeOptions& qo, TrainerHook& hook,
                                const Settings& s) {
  SQZ_RETURN_IF_ERROR(quantize_some(m, qo, true));
  SQZ_RETURN_IF_ERROR(hook.run(m, s.finetune_steps / 2, true, s.seed * 1000 + 1, s.lr / 2,
                               "1x1 layers quantized, retraining the others"));
  return quantize_some(m, qo, false);
}

struct Row {
  std::string stage;
  int64_t bytes;
  std::string how;
  double top1;
};

}  // namespace

int main(int argc, char** argv) {
  Settings s;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (a == "--model")
      s.model = next();
    else if (a == "--data")
      s.data = next();
    else if (a == "--out")
      s.out = next();
    else if (a == "--threads")
      s.threads = std::atoi(next().c_str());
    else if (a == "--density")
      s.density = std::atof(next().c_str());
    else if (a == "--bits")
      s.bits = std::atoi(next().c_str());
    else if (a == "--steps")
      s.steps = std::atoi(next().c_str());
    else if (a == "--retrain-steps")
      s.retrain_steps = std::atoi(next().c_str());
    else if (a == "--finetune-steps")
      s.finetune_steps = std::atoi(next().c_str());
    else if (a == "--lr")
      s.lr = std::atof(next().c_str());
    else if (a == "--finetune-lr")
      s.finetune_lr = std::atof(next().c_str());
    else if (a == "--distill")
      s.distill = std::atof(next().c_str());
    else if (a == "--schedule")
      s.gradual = next() != "steps";
    else if (a == "--quantize-at-once")
      s.two_phases = false;
    else if (a == "--pruned")
      s.pruned = next();
    else if (a == "--granularity")
      s.kernels = next() != "weight";
    else {
      std::fprintf(stderr, "compress_fashion: unknown option '%s'\n", a.c_str());
      return 2;
    }
  }
  const auto t0 = std::chrono::steady_clock::now();
  auto fail = [](const Status& st) {
    std::fprintf(stderr, "compress_fashion: %s\n", st.message().c_str());
    return 1;
  };
  std::fprintf(stderr, "[1/6] loading %s and Fashion-MNIST\n", s.model.c_str());
  auto model = format::import_onnx(s.model);
  if (!model.is_ok()) return fail(model.status());
  auto train_set = sample::load_split(s.data, "train");
  if (!train_set.is_ok()) return fail(train_set.status());
  auto test_set = sample::load_split(s.data, "t10k");
  if (!test_set.is_ok()) return fail(test_set.status());
  std::error_code ec;
  std::filesystem::create_directories(s.out, ec);
  auto float_bytes = read_file(s.model);
  std::vector<Row> rows;
  auto acc = test_accuracy(*model, *test_set, s.threads);
  if (!acc.is_ok()) return fail(acc.status());
  rows.push_back(
      {"float32 (ONNX)", static_cast<int64_t>(float_bytes->size()), "dense float32", *acc});

  Model m = *model;
  prune::PruneOptions po;
  po.criterion = prune::Criterion::kGlobalDensity;
  po.density = s.density;
  po.steps = s.steps;
  po.granularity = s.kernels ? prune::Granularity::kKernel : prune::Granularity::kWeight;
  // The stem is small and sensitive; its kernels are its only input channel's filters, so it is
  // kept dense rather than losing whole kernels.
  po.layer_density["conv1"] = s.kernels ? 1.0 : std::min(1.0, 4 * s.density);
  TrainerHook hook(*train_set, s, *model);
  if (!s.pruned.empty()) {
    std::fprintf(stderr, "[2/6] starting from the pruned model %s\n", s.pruned.c_str());
    auto file = format::read_sqz(s.pruned);
    if (!file.is_ok()) return fail(file.status());
    m = std::move(file->model);
  } else if (s.gradual) {
    std::fprintf(stderr, "[2/6] pruning to density %.3f gradually during %d steps of retraining\n",
                 s.density, s.steps * s.retrain_steps);
    if (Status st = prune_gradually(m, po, hook, s); !st.is_ok()) return fail(st);
  } else {
    std::fprintf(stderr, "[2/6] pruning to density %.3f in %d steps, retraining after each\n",
                 s.density, s.steps);
    auto pruned = prune::prune_iteratively(m, po, &hook);
    if (!pruned.is_ok()) return fail(pruned.status());
  }
  acc = test_accuracy(m, *test_set, s.threads);
  if (!acc.is_ok()) return fail(acc.status());
  std::string pruned_sqz;
  auto pruned_file = format::encode_sqz(m, {}, &pruned_sqz);
  if (!pruned_file.is_ok()) return fail(pruned_file.status());
  if (Status st = write_file_atomic(s.out + "/fashion_squeezenet_pruned.sqz", pruned_sqz, true);
      !st.is_ok())
    return fail(st);
  char how[96];
  std::snprintf(how, sizeof how, "density %.3f, float32 values + 4-bit relative index",
                prune::total_density(m));
  rows.push_back({"pruned", format::relative_index_bytes(m, false), how, *acc});

  std::fprintf(stderr, "[3/6] k-means weight sharing, %d bits (conv1 and conv_final %d)%s\n",
               s.bits, std::min(8, s.bits + 2), s.two_phases ? ", 1x1 layers first" : "");
  quant::QuantizeOptions qo;
  qo.bits = s.bits;
  qo.layer_bits = {{"conv1", std::min(8, s.bits + 2)}, {"conv_final", std::min(8, s.bits + 2)}};
  if (s.two_phases) {
    if (Status st = quantize_pointwise_first(m, qo, hook, s); !st.is_ok()) return fail(st);
  } else {
    auto metrics = quant::quantize_model(m, qo);
    if (!metrics.is_ok()) return fail(metrics.status());
  }
  std::fprintf(stderr, "[4/6] fine-tuning the shared centroids (paper Eq. 3)\n");
  if (Status st =
          hook.run(m, s.finetune_steps, true, s.seed * 1000, s.finetune_lr, "centroid fine-tuning");
      !st.is_ok())
    return fail(st);
  acc = test_accuracy(m, *test_set, s.threads);
  if (!acc.is_ok()) return fail(acc.status());
  std::snprintf(how, sizeof how, "%d-bit codes + 4-bit relative index, no entropy coding", s.bits);
  rows.push_back({"pruned + quantized", format::relative_index_bytes(m, true), how, *acc});

  std::fprintf(stderr, "[5/6] Huffman coding into a .sqz\n");
  const std::string sqz_path = s.out + "/fashion_squeezenet.sqz";
  format::SqzEncodeOptions eo;
  eo.int8_biases = true;  // 8-bit biases, binary16 codebooks: 730 biases were ~11% of the file
  eo.metadata = {{"producer", "squeeze-compress 0.1.0"},
                 {"source", "fashion_squeezenet.onnx"},
                 {"pipeline", "compress_fashion density " + std::to_string(s.density) + " bits " +
                                  std::to_string(s.bits)}};
  std::string bytes;
  auto file = format::encode_sqz(m, eo, &bytes);
  if (!file.is_ok()) return fail(file.status());
  if (Status st = write_file_atomic(sqz_path, bytes, true); !st.is_ok()) return fail(st);

  std::fprintf(stderr, "[6/6] running the .sqz on the 10,000 test images\n");
  auto back = format::read_sqz(sqz_path);
  if (!back.is_ok()) return fail(back.status());
  acc = test_accuracy(back->model, *test_set, s.threads);
  if (!acc.is_ok()) return fail(acc.status());
  rows.push_back({"pruned + quantized + Huffman (.sqz)", static_cast<int64_t>(bytes.size()),
                  "the file itself, run by the runtime", *acc});

  // The table, printed and written as Markdown and JSON.
  std::ostringstream md, js;
  md << "| stage | bytes | ratio | test top-1 | stored as |\n| --- | ---: | ---: | ---: | --- |\n";
  js << "{\"model\": \"" << s.model << "\", \"test_images\": " << test_set->count
     << ", \"stages\": [";
  std::printf("\n%-36s %10s %8s %11s  %s\n", "stage", "bytes", "ratio", "test top-1", "stored as");
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    const double ratio = static_cast<double>(rows[0].bytes) / static_cast<double>(r.bytes);
    std::printf("%-36s %10lld %7.1fx %10.2f%%  %s\n", r.stage.c_str(), (long long)r.bytes, ratio,
                100 * r.top1, r.how.c_str());
    char line[512];
    std::snprintf(line, sizeof line, "| %s | %lld | %.1fx | %.2f%% | %s |\n", r.stage.c_str(),
                  (long long)r.bytes, ratio, 100 * r.top1, r.how.c_str());
    md << line;
    std::snprintf(line, sizeof line,
                  "%s\n  {\"stage\": \"%s\", \"bytes\": %lld, \"ratio\": %.3f, \"top1\": %.4f}",
                  i ? "," : "", r.stage.c_str(), (long long)r.bytes, ratio, r.top1);
    js << line;
  }
  js << "\n]}\n";
  const double drop = 100 * (rows.front().top1 - rows.back().top1);
  const double ratio =
      static_cast<double>(rows.front().bytes) / static_cast<double>(rows.back().bytes);
  std::printf(
      "\n.sqz is %.1fx smaller than the float32 model; test top-1 %+.2f points (%s: >= 30x, within "
      "0.5)\n",
      ratio, -drop, ratio >= 30 && drop <= 0.5 ? "meets the targets" : "MISSES the targets");
  std::printf("wrote %s, %s/compression_table.md, %s/compression_table.json (%.0f s)\n",
              sqz_path.c_str(), s.out.c_str(), s.out.c_str(), seconds_since(t0));
  (void)write_file_atomic(s.out + "/compression_table.md", md.str(), true);
  (void)write_file_atomic(s.out + "/compression_table.json", js.str(), true);
  return 0;
}
