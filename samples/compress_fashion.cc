// The main job on the embedded default: Deep Compression with labelled retraining of the
// committed Fashion-MNIST SqueezeNet, one call of the pipeline library's recipe
// (sqz/pipeline/retrain.h: pruning during retraining -> k-means weight sharing -> centroid
// fine-tuning), then Huffman -> .sqz, every stage measured on the 10,000 test images by the
// runtime, the last one by running the .sqz file itself.
// usage: compress_fashion [--model ONNX] [--data DIR] [--out DIR] [--threads T] [--density D]
//                         [--bits B] [--steps N] [--retrain-steps K] [--finetune-steps K]
//                         [--lr LR] [--finetune-lr LR] [--distill ALPHA] [--schedule gradual|steps]
//                         [--granularity kernel|weight] [--pruned SQZ] [--quantize-at-once]
//                         [--test-images N]
// --pruned starts from a pruned model that an earlier run wrote (OUT/fashion_squeezenet_pruned.sqz)
// instead of pruning again: for trying weight-sharing settings quickly. --test-images N measures
// on the first N test images only (the smoke test's shortcut; the table then says N).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "fashion.h"
#include "sqz/core/file_io.h"
#include "sqz/core/version.h"
#include "sqz/import/importers.h"
#include "sqz/format/paper_layout.h"
#include "sqz/format/sqz_file.h"
#include "sqz/pipeline/retrain.h"
#include "sqz/train/idx.h"

namespace {

using namespace sqz;

struct Settings {
  std::string model = "samples/fashion_squeezenet.onnx", data = train::kFashionMnistDir,
              out = "build/samples", pruned;
  int64_t test_images = 10000;  // the first N of the test split measure every stage
  pipeline::RetrainOptions recipe;
};

// Defaults: what fits the main job's 10 minutes on 2 cores (see README, "The embedded default").
Settings default_settings() {
  Settings s;
  pipeline::RetrainOptions& r = s.recipe;
  r.threads = 2;
  r.quantize.bits = 3;
  r.prune_steps = 4;
  r.retrain_steps = 1300;
  r.finetune_steps = 600;
  r.granularity = prune::Granularity::kKernel;
  r.density = 0.21;
  r.learning_rate = 4e-3;
  r.label_weight = 0.5;
  r.finetune_lr = 8e-3;
  r.seed = 7;
  return s;
}

// The recipe's per-layer choices for this network: the stem is small and sensitive, and its
// kernels are its only input channel's filters, so it stays dense rather than losing whole
// kernels; the stem and the classifier get two more bits.
void name_layers(Settings& s) {
  pipeline::RetrainOptions& r = s.recipe;
  const bool kernels = r.granularity == prune::Granularity::kKernel;
  r.layer_density["conv1"] = kernels ? 1.0 : std::min(1.0, 4 * r.density);
  const int wide = std::min(8, r.quantize.bits + 2);
  r.quantize.layer_bits = {{"conv1", wide}, {"conv_final", wide}};
}

bool parse(int argc, char** argv, Settings* s) {
  pipeline::RetrainOptions& r = s->recipe;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (a == "--model") s->model = next();
    else if (a == "--data") s->data = next();
    else if (a == "--out") s->out = next();
    else if (a == "--threads") r.threads = std::atoi(next().c_str());
    else if (a == "--density") r.density = std::atof(next().c_str());
    else if (a == "--bits") r.quantize.bits = std::atoi(next().c_str());
    else if (a == "--steps") r.prune_steps = std::atoi(next().c_str());
    else if (a == "--retrain-steps") r.retrain_steps = std::atoi(next().c_str());
    else if (a == "--finetune-steps") r.finetune_steps = std::atoi(next().c_str());
    else if (a == "--lr") r.learning_rate = std::atof(next().c_str());
    else if (a == "--finetune-lr") r.finetune_lr = std::atof(next().c_str());
    else if (a == "--distill") r.label_weight = std::atof(next().c_str());
    else if (a == "--schedule") r.gradual = next() != "steps";
    else if (a == "--quantize-at-once") r.pointwise_first = false;
    else if (a == "--pruned") s->pruned = next();
    else if (a == "--test-images") {
      const std::string v = next();
      char* end = nullptr;
      s->test_images = std::strtoll(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || s->test_images < 1 || s->test_images > 10000) {
        std::fprintf(stderr, "compress_fashion: --test-images must be in 1..10000\n");
        return false;
      }
    }
    else if (a == "--granularity")
      r.granularity = next() != "weight" ? prune::Granularity::kKernel : prune::Granularity::kWeight;
    else {
      std::fprintf(stderr, "compress_fashion: unknown option '%s'\n", a.c_str());
      return false;
    }
  }
  return true;
}

// Retraining progress on stderr, a line per task.
struct Notes : pipeline::Observer {
  void note(const std::string& line) override { std::fprintf(stderr, "%s\n", line.c_str()); }
};

struct Row {
  std::string stage;
  int64_t bytes;
  std::string how;
  double top1;
};

// The paper-style table: printed, and written as Markdown and JSON beside the .sqz.
void write_table(const std::vector<Row>& rows, const Settings& s, int64_t test_images,
                 const std::string& sqz_path, double seconds) {
  std::ostringstream md, js;
  md << "| stage | bytes | ratio | test top-1 | stored as |\n| --- | ---: | ---: | ---: | --- |\n";
  js << "{\"model\": \"" << s.model << "\", \"test_images\": " << test_images << ", \"stages\": [";
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
              sqz_path.c_str(), s.out.c_str(), s.out.c_str(), seconds);
  (void)write_file_atomic(s.out + "/compression_table.md", md.str(), true);
  (void)write_file_atomic(s.out + "/compression_table.json", js.str(), true);
}

pipeline::LabelledTensors tensors(sample::Split split) {
  return {{1, 28, 28}, std::move(split.x), std::move(split.y)};
}

int fail(const Status& st) {
  std::fprintf(stderr, "compress_fashion: %s\n", st.message().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  Settings s = default_settings();
  if (!parse(argc, argv, &s)) return 2;
  name_layers(s);
  const pipeline::RetrainOptions& r = s.recipe;
  const auto t0 = std::chrono::steady_clock::now();
  std::fprintf(stderr, "[1/6] loading %s and Fashion-MNIST\n", s.model.c_str());
  auto model = import::import_onnx(s.model);
  if (!model.is_ok()) return fail(model.status());
  auto train_split = sample::load_split(s.data, "train");
  if (!train_split.is_ok()) return fail(train_split.status());
  auto test_split = sample::load_split(s.data, "t10k");
  if (!test_split.is_ok()) return fail(test_split.status());
  const pipeline::LabelledTensors train = tensors(std::move(*train_split));
  pipeline::LabelledTensors test = tensors(std::move(*test_split));
  if (s.test_images < test.count()) {  // a smoke test's shortcut: the first N images
    const size_t per_image = test.x.size() / test.y.size();
    test.y.resize(static_cast<size_t>(s.test_images));
    test.x.resize(test.y.size() * per_image);
  }
  std::error_code ec;
  std::filesystem::create_directories(s.out, ec);
  auto float_bytes = read_file(s.model);
  if (!float_bytes.is_ok()) return fail(float_bytes.status());
  std::vector<Row> rows;
  auto acc = pipeline::evaluate_tensors(*model, test, r.threads);
  if (!acc.is_ok()) return fail(acc.status());
  rows.push_back({"float32 (ONNX)", static_cast<int64_t>(float_bytes->size()), "dense float32",
                  acc->top1});

  Notes notes;
  auto recipe = pipeline::LabelledRetraining::create(*model, train, r, &notes);
  if (!recipe.is_ok()) return fail(recipe.status());
  Model m = *model;
  if (!s.pruned.empty()) {
    std::fprintf(stderr, "[2/6] starting from the pruned model %s\n", s.pruned.c_str());
    auto file = format::read_sqz(s.pruned);
    if (!file.is_ok()) return fail(file.status());
    m = std::move(file->model);
  } else {
    std::fprintf(stderr, "[2/6] pruning to density %.3f %s\n", r.density,
                 r.gradual ? "gradually during retraining" : "in steps, retraining after each");
    if (Status st = (*recipe)->prune(m); !st.is_ok()) return fail(st);
  }
  acc = pipeline::evaluate_tensors(m, test, r.threads);
  if (!acc.is_ok()) return fail(acc.status());
  std::string pruned_sqz;
  if (auto f = format::encode_sqz(m, {}, &pruned_sqz); !f.is_ok()) return fail(f.status());
  if (Status st = write_file_atomic(s.out + "/fashion_squeezenet_pruned.sqz", pruned_sqz, true);
      !st.is_ok())
    return fail(st);
  char how[96];
  std::snprintf(how, sizeof how, "density %.3f, float32 values + 4-bit relative index",
                prune::total_density(m));
  rows.push_back({"pruned", format::relative_index_bytes(m, false), how, acc->top1});

  std::fprintf(stderr, "[3/6] k-means weight sharing, %d bits (conv1 and conv_final %d)%s\n",
               r.quantize.bits, std::min(8, r.quantize.bits + 2),
               r.pointwise_first ? ", 1x1 layers first" : "");
  std::fprintf(stderr, "[4/6] fine-tuning the shared centroids (paper Eq. 3)\n");
  if (Status st = (*recipe)->share_weights(m); !st.is_ok()) return fail(st);
  acc = pipeline::evaluate_tensors(m, test, r.threads);
  if (!acc.is_ok()) return fail(acc.status());
  std::snprintf(how, sizeof how, "%d-bit codes + 4-bit relative index, no entropy coding",
                r.quantize.bits);
  rows.push_back({"pruned + quantized", format::relative_index_bytes(m, true), how, acc->top1});

  std::fprintf(stderr, "[5/6] Huffman coding into a .sqz\n");
  const std::string sqz_path = s.out + "/fashion_squeezenet.sqz";
  format::SqzEncodeOptions eo;
  eo.int8_biases = true;  // 8-bit biases, binary16 codebooks: 730 biases were ~11% of the file
  eo.metadata = {{"producer", kProducer},
                 {"source", "fashion_squeezenet.onnx"},
                 {"pipeline", "compress_fashion density " + std::to_string(r.density) + " bits " +
                                  std::to_string(r.quantize.bits)}};
  std::string bytes;
  if (auto f = format::encode_sqz(m, eo, &bytes); !f.is_ok()) return fail(f.status());
  if (Status st = write_file_atomic(sqz_path, bytes, true); !st.is_ok()) return fail(st);

  if (test.count() == 10000)
    std::fprintf(stderr, "[6/6] running the .sqz on the 10,000 test images\n");
  else
    std::fprintf(stderr, "[6/6] running the .sqz on %lld test images\n",
                 static_cast<long long>(test.count()));
  auto back = format::read_sqz(sqz_path);
  if (!back.is_ok()) return fail(back.status());
  acc = pipeline::evaluate_tensors(back->model, test, r.threads);
  if (!acc.is_ok()) return fail(acc.status());
  rows.push_back({"pruned + quantized + Huffman (.sqz)", static_cast<int64_t>(bytes.size()),
                  "the file itself, run by the runtime", acc->top1});
  write_table(rows, s, test.count(), sqz_path,
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  return 0;
}
