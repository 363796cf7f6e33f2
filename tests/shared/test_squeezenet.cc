// The foundation's acceptance tests on the real, ImageNet-trained SqueezeNet v1.0.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <sstream>

#include "sqz/pipeline/classify.h"
#include "sqz/pipeline/labels.h"
#include "sqz/import/importers.h"
#include "sqz/kernels/machine.h"
#include "sqz/runtime/net.h"
#include "test_util.h"

using namespace sqz;

namespace {

std::string model_dir() { return test::shared_dir() + "/models/squeezenet_v1.0_deep_compression/"; }

std::vector<float> read_f32(const std::string& path) {
  std::string bytes = test::read_bytes(path);
  std::vector<float> v(bytes.size() / 4);
  std::memcpy(v.data(), bytes.data(), v.size() * 4);
  return v;
}

Model load(const std::string& which) {
  const std::string proto = model_dir() + "SqueezeNet_deploy.prototxt";
  Result<Model> m =
      which == "onnx" ? import::import_onnx(model_dir() + "squeezenet_v1.0_dc.onnx")
      : which == "caffe"
          ? import::import_caffe(proto, model_dir() + "squeezenet_v1.0_dc.caffemodel")
          : import::import_deep_compression_net(proto, model_dir() + "compressed_SqueezeNet.net");
  REQUIRE_MESSAGE(m.is_ok(), m.status().message());
  return std::move(m).value();
}

std::vector<const Layer*> convs(const Model& m) {
  std::vector<const Layer*> out;
  for (const Layer& l : m.layers)
    if (l.op == OpKind::kConvolution) out.push_back(&l);
  return out;
}

}  // namespace

TEST_CASE("the three released forms import to bit-identical weights") {
  Model net = load("net"), caffe = load("caffe"), onnx = load("onnx");
  CHECK(net.weight_count() == 1244448);
  CHECK(net.nonzero_weight_count() == 415921);
  auto a = convs(net), b = convs(caffe), c = convs(onnx);
  REQUIRE(a.size() == 26);
  REQUIRE(b.size() == 26);
  REQUIRE(c.size() == 26);
  for (size_t i = 0; i < a.size(); ++i) {
    INFO("layer " << a[i]->name);
    CHECK(a[i]->weight.shape == b[i]->weight.shape);
    CHECK(a[i]->weight.shape == c[i]->weight.shape);
    CHECK(std::memcmp(a[i]->weight.data.data(), b[i]->weight.data.data(),
                      4 * a[i]->weight.numel()) == 0);
    CHECK(std::memcmp(a[i]->weight.data.data(), c[i]->weight.data.data(),
                      4 * a[i]->weight.numel()) == 0);
    CHECK(std::memcmp(a[i]->bias.data.data(), b[i]->bias.data.data(), 4 * a[i]->bias.numel()) == 0);
    CHECK(std::memcmp(a[i]->bias.data.data(), c[i]->bias.data.data(), 4 * a[i]->bias.numel()) == 0);
  }
}

TEST_CASE("the runtime reproduces the golden logits") {
  const std::vector<float> inputs = read_f32(test::shared_dir() + "/reference/golden_inputs.f32");
  const std::vector<float> golden = read_f32(test::shared_dir() + "/reference/golden_logits.f32");
  REQUIRE(inputs.size() == 8 * 3 * 227 * 227);
  REQUIRE(golden.size() == 8 * 1000);
  auto check_rows = [&](const std::vector<float>& out, int64_t first, int64_t count) {
    for (int64_t b = 0; b < count; ++b) {
      double err = 0, ref = 0;
      for (int k = 0; k < 1000; ++k) {
        err = std::max(err, std::fabs(double{out[b * 1000 + k]} - golden[(first + b) * 1000 + k]));
        ref = std::max(ref, std::fabs(double{golden[(first + b) * 1000 + k]}));
      }
      INFO("image " << first + b << " max|diff| " << err << " max|ref| " << ref);
      CHECK(err <= 1e-4 * ref);
    }
  };
  for (const char* which : {"net", "caffe", "onnx"}) {
    INFO("model form " << which);
    Model m = load(which);
    runtime::NetOptions two;
    two.threads = 2;
    auto net = runtime::Net::create(m, two);
    REQUIRE(net.is_ok());
    std::vector<float> out;
    REQUIRE((*net)->forward(inputs.data(), 8, &out).is_ok());
    check_rows(out, 0, 8);
  }
  // Batch 1, one thread, and the naive reference kernels on the first image.
  Model m = load("onnx");
  auto single = runtime::Net::create(m, {});
  REQUIRE(single.is_ok());
  std::vector<float> out;
  for (int64_t b = 0; b < 8; ++b) {
    REQUIRE((*single)->forward(inputs.data() + b * 3 * 227 * 227, 1, &out).is_ok());
    check_rows(out, b, 1);
  }
  runtime::NetOptions ref;
  ref.policy = runtime::KernelPolicy::kReference;
  auto naive = runtime::Net::create(m, ref);
  REQUIRE(naive.is_ok());
  REQUIRE((*naive)->forward(inputs.data(), 1, &out).is_ok());
  check_rows(out, 0, 1);
  // Every ISA path this CPU runs (SQZ_ISA, read by each process) at 1 and 2 threads, and
  // tuned at 2, through the command line. Not under the sanitizers (12 processes of the whole
  // net there take minutes of CI); the release build's run covers them.
#if !SQZ_SANITIZED
  test::TempDir dir;
  const std::string onnx =
      test::shared_dir() + "/models/squeezenet_v1.0_deep_compression/squeezenet_v1.0_dc.onnx";
  const std::string in = test::shared_dir() + "/reference/golden_inputs.f32";
  for (kernels::Isa isa : {kernels::Isa::kGeneric, kernels::Isa::kAvx2, kernels::Isa::kAvx512}) {
    if (static_cast<int>(isa) > static_cast<int>(kernels::machine().best_isa)) continue;
    ::setenv("SQZ_ISA", kernels::isa_name(isa), 1);
    for (const char* threads : {"1", "2"})
      for (const char* mode : {"", "--tune"}) {
        if (*mode && std::string(threads) == "1") continue;
        INFO("SQZ_ISA=" << kernels::isa_name(isa) << " threads " << threads << " " << mode);
        std::vector<std::string> args{"run", onnx, "--input-tensor", in, "--output-tensor",
                                      dir.file("out.f32"), "--threads", threads, "--force"};
        if (*mode) args.insert(args.end(), {mode, "--tune-cache", dir.file("tune.txt")});
        REQUIRE(test::run_cli(args).exit_code == 0);
        check_rows(read_f32(dir.file("out.f32")), 0, 8);
      }
  }
  ::unsetenv("SQZ_ISA");
#endif
}

TEST_CASE("accuracy from the JPEGs matches the reference implementation") {
  const std::string dir = test::shared_dir();
  const std::vector<float> ref = read_f32(dir + "/reference/calib_logits.f32");
  std::istringstream files(test::read_bytes(dir + "/reference/calib_files.txt"));
  auto labels = pipeline::read_labels(dir + "/images/synsets.txt");
  REQUIRE(labels.is_ok());
  Model m = load("onnx");
  runtime::NetOptions two;
  two.threads = 2;
  auto net = runtime::Net::create(m, two);
  REQUIRE(net.is_ok());
  auto pre = pipeline::preprocess_for((*net)->input_chw());
  REQUIRE(pre.is_ok());
  // Under the sanitizers (about 5x slower) every fifth image: the same decoder and net paths;
  // the release suite checks all 500 against the documented figures.
  const int every = SQZ_SANITIZED ? 5 : 1;
  int n = 0, seen = 0, agree = 0, top1 = 0, top5 = 0, ref_top1 = 0, ref_top5 = 0;
  std::string name;
  while (std::getline(files, name)) {
    if (name.empty()) continue;
    if (seen++ % every != 0) continue;
    const std::string path = dir + "/images/calib/" + name.substr(name.find_last_of('/') + 1);
    auto in = pipeline::load_input(path, *pre);
    REQUIRE_MESSAGE(in.is_ok(), in.status().message());
    std::vector<float> out;
    REQUIRE((*net)->forward(in->data(), 1, &out).is_ok());
    const int label = pipeline::label_from_filename(*labels, path);
    REQUIRE(label >= 0);
    auto mine = pipeline::top_k(out.data(), 1000, 5);
    auto theirs = pipeline::top_k(ref.data() + (seen - 1) * 1000, 1000, 5);
    agree += mine[0] == theirs[0];
    top1 += mine[0] == label;
    top5 += std::count(mine.begin(), mine.end(), label);
    ref_top1 += theirs[0] == label;
    ref_top5 += std::count(theirs.begin(), theirs.end(), label);
    ++n;
  }
  REQUIRE(seen == 500);
  REQUIRE(n == 500 / every);
  MESSAGE("agreement " << agree << "/" << n << ", top-1 " << top1 << " (ref " << ref_top1
                       << "), top-5 " << top5 << " (ref " << ref_top5 << ")");
  if (every == 1) CHECK(ref_top1 == 321);  // 64.2% as documented in ../shared/README.md
  if (every == 1) CHECK(ref_top5 == 421);
  // The full set's allowances, as counts (a subset may hold all of the full set's
  // disagreements): 10 disagreements (>= 98% of 500), top-1 and top-5 within 5 (1 point).
  CHECK(agree >= n - 10);
  CHECK(std::abs(top1 - ref_top1) <= 5);
  CHECK(std::abs(top5 - ref_top5) <= 5);
}
