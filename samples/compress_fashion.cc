// The main job on the embedded default: Deep Compression with labelled retraining of the
// committed Fashion-MNIST SqueezeNet, one call of the pipeline library's recipe
// (sqz/pipeline/retrain.h: pruning during retraining -> k-means weight sharing -> centroid
// fine-tuning), then Huffman -> .sqz, every stage measured on the 10,000 test images by the
// runtime, the last one by running the .sqz file itself.
// usage: kUsage below (compress_fashion --help).
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

template <typename T>
bool number(const std::string& flag, const std::string& text, double lo, double hi, T* out) {
  return sample::parse_number("compress_fashion", flag, text, lo, hi, out);
}

// A word option's value: `on` sets *out, `off` clears it; anything else is an error.
bool choice(const std::string& flag, const std::string& text, const char* on, const char* off,
            bool* out) {
  if (text != on && text != off) {
    std::fprintf(stderr, "compress_fashion: %s must be %s or %s, not '%s'\n", flag.c_str(), on, off,
                 text.c_str());
    return false;
  }
  *out = text == on;
  return true;
}

// The numeric options: flag -> a parser writing into the settings.
bool parse_numeric_option(const std::string& a, const std::string& v, Settings* s, bool* known) {
  pipeline::RetrainOptions& r = s->recipe;
  *known = true;
  if (a == "--threads") return number(a, v, 1, 256, &r.threads);
  if (a == "--density") return number(a, v, 1e-3, 1, &r.density);
  if (a == "--bits") return number(a, v, 1, 8, &r.quantize.bits);
  if (a == "--steps") return number(a, v, 1, 1000, &r.prune_steps);
  if (a == "--retrain-steps") return number(a, v, 0, 1e6, &r.retrain_steps);
  if (a == "--finetune-steps") return number(a, v, 0, 1e6, &r.finetune_steps);
  if (a == "--lr") return number(a, v, 1e-8, 10, &r.learning_rate);
  if (a == "--finetune-lr") return number(a, v, 1e-8, 10, &r.finetune_lr);
  if (a == "--distill") return number(a, v, 0, 1, &r.label_weight);
  if (a == "--test-images") return number(a, v, 1, 10000, &s->test_images);
  *known = false;
  return true;
}

bool parse(int argc, char** argv, Settings* s) {
  pipeline::RetrainOptions& r = s->recipe;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--quantize-at-once") {
      r.pointwise_first = false;
      continue;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "compress_fashion: %s needs a value\n", a.c_str());
      return false;
    }
    const std::string v = argv[++i];
    bool known = false, kernel = true;
    if (!parse_numeric_option(a, v, s, &known)) return false;
    if (known) continue;
    if (a == "--model") s->model = v;
    else if (a == "--data") s->data = v;
    else if (a == "--out") s->out = v;
    else if (a == "--pruned") s->pruned = v;
    else if (a == "--schedule") {
      if (!choice(a, v, "gradual", "steps", &r.gradual)) return false;
    } else if (a == "--granularity") {
      if (!choice(a, v, "kernel", "weight", &kernel)) return false;
      r.granularity = kernel ? prune::Granularity::kKernel : prune::Granularity::kWeight;
    } else {
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
Status write_table(const std::vector<Row>& rows, const Settings& s, int64_t test_images,
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
  SQZ_RETURN_IF_ERROR(write_file_atomic(s.out + "/compression_table.md", md.str(), true));
  SQZ_RETURN_IF_ERROR(write_file_atomic(s.out + "/compression_table.json", js.str(), true));
  std::printf("wrote %s, %s/compression_table.md, %s/compression_table.json (%.0f s)\n",
              sqz_path.c_str(), s.out.c_str(), s.out.c_str(), seconds);
  return Status::ok();
}

pipeline::LabelledTensors tensors(sample::Split split) {
  return {{1, 28, 28}, std::move(split.x), std::move(split.y)};
}

int fail(const Status& st) {
  std::fprintf(stderr, "compress_fashion: %s\n", st.message().c_str());
  return 1;
}

// The float model, the training split, the first s.test_images of the test split, and the
// ONNX file's size.
struct Data {
  Model model;
  pipeline::LabelledTensors train, test;
  int64_t float_bytes = 0;
};

Result<Data> load_data(const Settings& s) {
  Data d;
  SQZ_ASSIGN_OR_RETURN(d.model, import::import_onnx(s.model));
  SQZ_ASSIGN_OR_RETURN(sample::Split train, sample::load_split(s.data, "train"));
  SQZ_ASSIGN_OR_RETURN(sample::Split test, sample::load_split(s.data, "t10k"));
  d.train = tensors(std::move(train));
  d.test = tensors(std::move(test));
  if (s.test_images < d.test.count()) {  // a smoke test's shortcut: the first N images
    const size_t per_image = d.test.x.size() / d.test.y.size();
    d.test.y.resize(static_cast<size_t>(s.test_images));
    d.test.x.resize(d.test.y.size() * per_image);
  }
  SQZ_ASSIGN_OR_RETURN(std::string bytes, read_file(s.model));
  d.float_bytes = static_cast<int64_t>(bytes.size());
  return d;
}

// Measures m on the test images and adds the table's row for it.
Status add_row(const Model& m, const Data& d, int threads, const std::string& stage,
               int64_t bytes, const std::string& how, std::vector<Row>* rows) {
  SQZ_ASSIGN_OR_RETURN(pipeline::Accuracy acc, pipeline::evaluate_tensors(m, d.test, threads));
  rows->push_back({stage, bytes, how, acc.top1});
  return Status::ok();
}

// Prunes m during retraining (or takes --pruned's model), and writes the pruned .sqz.
Status prune_stage(const Settings& s, pipeline::LabelledRetraining& recipe, const Data& d, Model* m,
                   std::vector<Row>* rows) {
  const pipeline::RetrainOptions& r = s.recipe;
  if (!s.pruned.empty()) {
    std::fprintf(stderr, "[2/6] starting from the pruned model %s\n", s.pruned.c_str());
    SQZ_ASSIGN_OR_RETURN(format::SqzFile file, format::read_sqz(s.pruned));
    *m = std::move(file.model);
  } else {
    std::fprintf(stderr, "[2/6] pruning to density %.3f %s\n", r.density,
                 r.gradual ? "gradually during retraining" : "in steps, retraining after each");
    SQZ_RETURN_IF_ERROR(recipe.prune(*m));
  }
  std::string pruned_sqz;
  SQZ_RETURN_IF_ERROR(format::encode_sqz(*m, {}, &pruned_sqz).status());
  SQZ_RETURN_IF_ERROR(
      write_file_atomic(s.out + "/fashion_squeezenet_pruned.sqz", pruned_sqz, true));
  char how[96];
  std::snprintf(how, sizeof how, "density %.3f, float32 values + 4-bit relative index",
                prune::total_density(*m));
  return add_row(*m, d, r.threads, "pruned", format::relative_index_bytes(*m, false), how, rows);
}

Status share_stage(const Settings& s, pipeline::LabelledRetraining& recipe, const Data& d,
                   Model* m, std::vector<Row>* rows) {
  const pipeline::RetrainOptions& r = s.recipe;
  std::fprintf(stderr, "[3/6] k-means weight sharing, %d bits (conv1 and conv_final %d)%s\n",
               r.quantize.bits, std::min(8, r.quantize.bits + 2),
               r.pointwise_first ? ", 1x1 layers first" : "");
  std::fprintf(stderr, "[4/6] fine-tuning the shared centroids (paper Eq. 3)\n");
  SQZ_RETURN_IF_ERROR(recipe.share_weights(*m));
  char how[96];
  std::snprintf(how, sizeof how, "%d-bit codes + 4-bit relative index, no entropy coding",
                r.quantize.bits);
  return add_row(*m, d, r.threads, "pruned + quantized", format::relative_index_bytes(*m, true),
                 how, rows);
}

// Huffman-codes m into OUT/fashion_squeezenet.sqz, then measures that file as the runtime
// reads it; returns its path.
Result<std::string> huffman_stage(const Settings& s, const Model& m, const Data& d,
                                  std::vector<Row>* rows) {
  const pipeline::RetrainOptions& r = s.recipe;
  std::fprintf(stderr, "[5/6] Huffman coding into a .sqz\n");
  const std::string sqz_path = s.out + "/fashion_squeezenet.sqz";
  format::SqzEncodeOptions eo;
  eo.int8_biases = true;  // 8-bit biases, binary16 codebooks: 730 biases were ~11% of the file
  eo.metadata = {{"producer", kProducer},
                 {"source", "fashion_squeezenet.onnx"},
                 {"pipeline", "compress_fashion density " + std::to_string(r.density) + " bits " +
                                  std::to_string(r.quantize.bits)}};
  std::string bytes;
  SQZ_RETURN_IF_ERROR(format::encode_sqz(m, eo, &bytes).status());
  SQZ_RETURN_IF_ERROR(write_file_atomic(sqz_path, bytes, true));
  if (d.test.count() == 10000)
    std::fprintf(stderr, "[6/6] running the .sqz on the 10,000 test images\n");
  else
    std::fprintf(stderr, "[6/6] running the .sqz on %lld test images\n",
                 static_cast<long long>(d.test.count()));
  SQZ_ASSIGN_OR_RETURN(format::SqzFile back, format::read_sqz(sqz_path));
  SQZ_RETURN_IF_ERROR(add_row(back.model, d, r.threads, "pruned + quantized + Huffman (.sqz)",
                              static_cast<int64_t>(bytes.size()),
                              "the file itself, run by the runtime", rows));
  return sqz_path;
}

}  // namespace

constexpr const char* kUsage =
    "usage: compress_fashion [--model ONNX] [--data DIR] [--out DIR] [--threads T] [--density D]\n"
    "                        [--bits B] [--steps N] [--retrain-steps K] [--finetune-steps K]\n"
    "                        [--lr LR] [--finetune-lr LR] [--distill ALPHA]\n"
    "                        [--schedule gradual|steps] [--granularity kernel|weight]\n"
    "                        [--pruned SQZ] [--quantize-at-once] [--test-images N]\n"
    "The main job: Deep Compression of the embedded Fashion-MNIST SqueezeNet with retraining;\n"
    "writes OUT/fashion_squeezenet.sqz and the compression table (README, \"The embedded\n"
    "default\").\n";

bool wants_help(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    if (std::string(argv[i]) == "--help" || std::string(argv[i]) == "-h") return true;
  return false;
}

int main(int argc, char** argv) {
  if (wants_help(argc, argv)) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  Settings s = default_settings();
  if (!parse(argc, argv, &s)) return 2;
  name_layers(s);
  const pipeline::RetrainOptions& r = s.recipe;
  const auto t0 = std::chrono::steady_clock::now();
  std::fprintf(stderr, "[1/6] loading %s and Fashion-MNIST\n", s.model.c_str());
  auto data = load_data(s);
  if (!data.is_ok()) return fail(data.status());
  std::error_code ec;
  std::filesystem::create_directories(s.out, ec);
  std::vector<Row> rows;
  if (Status st = add_row(data->model, *data, r.threads, "float32 (ONNX)", data->float_bytes,
                          "dense float32", &rows);
      !st.is_ok())
    return fail(st);
  Notes notes;
  auto recipe = pipeline::LabelledRetraining::create(data->model, data->train, r, &notes);
  if (!recipe.is_ok()) return fail(recipe.status());
  Model m = data->model;
  if (Status st = prune_stage(s, **recipe, *data, &m, &rows); !st.is_ok()) return fail(st);
  if (Status st = share_stage(s, **recipe, *data, &m, &rows); !st.is_ok()) return fail(st);
  auto sqz_path = huffman_stage(s, m, *data, &rows);
  if (!sqz_path.is_ok()) return fail(sqz_path.status());
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (Status st = write_table(rows, s, data->test.count(), *sqz_path, seconds); !st.is_ok())
    return fail(st);
  return 0;
}
