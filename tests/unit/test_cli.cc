// CLI behaviour on bad input: one line on stderr naming the file, non-zero exit, no stdout.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "sqz/format/sqz_file.h"
#include "sqz/import/exporters.h"
#include "sqz/import/importers.h"
#include "sqz/kernels/machine.h"
#include "sqz/runtime/thread_pool.h"
#include "test_util.h"

using namespace sqz;

namespace {

void expect_clean_failure(const test::CliResult& r, const std::string& file, int code = 1) {
  INFO("stderr: " << r.err);
  CHECK(r.exit_code == code);
  CHECK(r.out.empty());
  CHECK(r.err.find(file) != std::string::npos);
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
}

}  // namespace

TEST_CASE("CLI: usage errors exit 2") {
  CHECK(test::run_cli({}).exit_code == 2);
  CHECK(test::run_cli({"frobnicate"}).exit_code == 2);
  auto r = test::run_cli({"info"});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("model") != std::string::npos);
  CHECK(test::run_cli({"run", "x.onnx", "y.jpg", "--top", "0"}).exit_code == 2);
  // An option the mode would ignore is refused, not dropped (labels do not reach raw scores).
  auto tensor_labels = test::run_cli({"run", "x.onnx", "--input-tensor", "i.f32", "--output-tensor",
                                      "o.f32", "--labels", "synsets.txt"});
  CHECK(tensor_labels.exit_code == 2);
  CHECK(tensor_labels.err.find("--labels") != std::string::npos);
  for (std::vector<std::string> ignored :
       {std::vector<std::string>{"--top", "3"}, {"--mean", "1,2,3"}, {"--allow-truncated-images"}}) {
    std::vector<std::string> args{"run", "x.onnx", "--input-tensor", "i.f32", "--output-tensor",
                                  "o.f32"};
    args.insert(args.end(), ignored.begin(), ignored.end());
    auto r = test::run_cli(args);
    CHECK(r.exit_code == 2);
    CHECK(r.err.find(ignored[0]) != std::string::npos);
  }
  CHECK(test::run_cli({"info", "--bogus-flag", "x.onnx"}).exit_code == 2);
  // A library's check, in the CLI's words: the options it names are spelled as flags.
  auto split = test::run_cli({"compress", "x.onnx", "--calib-split", "1/2", "-o", "y.sqz"});
  CHECK(split.exit_code == 2);
  CHECK(split.err.find("--calib-split needs --calib") != std::string::npos);
  CHECK(split.err.find('`') == std::string::npos);
  auto half = test::run_cli({"compress", "x.onnx", "--half-widths", "--bits", "5", "-o", "y.sqz"});
  CHECK(half.exit_code == 2);
  CHECK(half.err.find("--half-widths needs --target-bytes") != std::string::npos);
  // An option that would be ignored is refused, in flags (check_option_dependencies).
  for (const auto& [option, words] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"--widths", "3,4"}, "--widths needs --target-bytes"},
           {{"--no-mirror"}, "--no-mirror needs --train images"},
           {{"--calib-lr", "0.01"}, "--calib-lr needs --calib images"},
           {{"--granularity", "kernel"}, "--granularity needs pruning (--density or"},
           {{"--density", "0"}, "--density needs a fraction above 0"},
           {{"--target-bytes", "0"}, "--target-bytes needs a size above 0"}}) {
    std::vector<std::string> args{"compress", "x.onnx", "-o", "y.sqz"};
    args.insert(args.end(), option.begin(), option.end());
    auto r = test::run_cli(args);
    CHECK(r.exit_code == 2);
    CHECK(r.err.find(words) != std::string::npos);
  }
  for (const auto& [args, words] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"quantize", "x.onnx", "-o", "y.sqz", "--entropy", "2"}, "--entropy is the uniform"},
           {{"quantize", "x.onnx", "-o", "y.sqz", "--seed", "2"}, "--seed draws the random"},
           {{"quantize", "x.onnx", "-o", "y.sqz", "--exact", "--init", "random"}, "--init starts"},
           {{"prune", "x.onnx", "-o", "y.sqz", "--density", "0.5", "--schedule", "linear"},
            "--schedule spaces the pruning steps"},
           {{"encode", "x.onnx", "-o", "y.sqz", "--allow-truncated-images"}, "unrecognised"},
           // Commands that plan no network do not offer the memory limit or tuning.
           {{"info", "x.onnx", "--tune"}, "unrecognised option '--tune'"},
           {{"quantize", "x.onnx", "-o", "y.sqz", "--max-memory", "10"}, "unrecognised"},
           {{"decode", "x.sqz", "-o", "y.onnx", "--tune-cache", "c.txt"}, "unrecognised"},
           {{"bench", "x.onnx", "--kernels", "reference", "--tune"}, "--kernels reference"},
           {{"bench", "x.onnx", "--sparse-max-density", "1.5"},
            "--sparse-max-density must be in 0..1"},
           {{"bench", "x.onnx", "--sparse-max-density", "0.5", "--kernels", "dense"},
            "--sparse-max-density is the auto rule's line; --kernels dense has none"}}) {
    auto r = test::run_cli(args);
    CHECK(r.exit_code == 2);
    CHECK(r.err.find(words) != std::string::npos);
  }
  // --tune-cache is checked before anything runs: a path that cannot hold the cache is named.
  for (const auto& [path, words] : std::vector<std::pair<std::string, std::string>>{
           {"/dev/null", "--tune-cache: /dev/null: is not a regular file"},
           {"/", "--tune-cache: /: is a directory"}}) {
    auto r = test::run_cli({"bench", "x.onnx", "--tune", "--tune-cache", path});
    CHECK(r.exit_code == 2);
    CHECK(r.err.find(words) != std::string::npos);
    CHECK(r.out.empty());
  }
  // A command named in a message stays a command (flag_words turns only `names` into --flags).
  auto onnx_out = test::run_cli({"quantize", "x.onnx", "-o", "y.onnx"});
  CHECK(onnx_out.exit_code == 2);
  CHECK(onnx_out.err.find("the decode command writes ONNX") != std::string::npos);
  CHECK(onnx_out.err.find("--decode") == std::string::npos);
  auto help = test::run_cli({"eval", "--help"});
  CHECK(help.exit_code == 0);
  CHECK(help.out.find("--images") != std::string::npos);
  auto help_eval = test::run_cli({"help", "eval"});  // as git and cargo have it
  CHECK(help_eval.exit_code == 0);
  CHECK(help_eval.out == help.out);
  CHECK(test::run_cli({"help", "evl"}).exit_code == 2);
}

TEST_CASE("CLI: info on a generated model") {
  test::TempDir dir;
  Model m = test::tiny_squeezenet(1, 19, 10, 0.5);
  test::write_bytes(dir.file("m.onnx"), import::export_onnx(m).value());
  auto r = test::run_cli({"info", dir.file("m.onnx")});
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("conv_final") != std::string::npos);
  CHECK(r.out.find("weights " + std::to_string(m.weight_count())) != std::string::npos);
  auto j = test::run_cli({"info", dir.file("m.onnx"), "--json"});
  CHECK(j.exit_code == 0);
  CHECK(j.out.find("\"nonzero\": " + std::to_string(m.nonzero_weight_count())) !=
        std::string::npos);
}

TEST_CASE("CLI: info on a .sqz checks and applies --input-shape, and refuses --prototxt") {
  test::TempDir dir;
  Model m = test::tiny_squeezenet(1, 19, 10, 0.5);
  const std::string sqz = dir.file("m.sqz");
  std::string bytes;
  REQUIRE(format::encode_sqz(m, {}, &bytes).is_ok());
  test::write_bytes(sqz, bytes);
  auto shaped = test::run_cli({"info", sqz, "--input-shape", "1,3,35,35"});
  CHECK(shaped.exit_code == 0);
  CHECK(shaped.out.find("[1, 3, 35, 35]") != std::string::npos);
  auto bad = test::run_cli({"info", sqz, "--input-shape", "abc"});
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.find("--input-shape") != std::string::npos);
  CHECK(bad.out.empty());
  auto proto = test::run_cli({"info", sqz, "--prototxt", dir.file("m.prototxt")});
  CHECK(proto.exit_code == 2);
  CHECK(proto.err.find("--prototxt is for a .caffemodel or .net model") != std::string::npos);
  auto run = test::run_cli({"bench", sqz, "--runs", "1", "--prototxt", dir.file("m.prototxt")});
  CHECK(run.exit_code == 1);
  CHECK(run.err.find("a network definition is for a .caffemodel or .net model") !=
        std::string::npos);
}

TEST_CASE("CLI: bench --json names the machine its figures come from") {
  test::TempDir dir;
  Model m = test::tiny_squeezenet(1, 19, 10, 0.5);
  test::write_bytes(dir.file("m.onnx"), import::export_onnx(m).value());
  auto r = test::run_cli({"bench", dir.file("m.onnx"), "--runs", "2", "--threads", "2", "--json"});
  REQUIRE(r.exit_code == 0);
  const nlohmann::json j = nlohmann::json::parse(r.out);
  CHECK(j.at("threads") == 2);
  CHECK(j.at("usable_cpus") == runtime::usable_cpus());
  CHECK(j.at("median_ms").get<double>() > 0);
  CHECK(j.at("convolutions_timed") == 0);  // no --tune
  CHECK(j.at("layers").size() >= 5);
  const kernels::Machine& here = kernels::machine();
  const nlohmann::json& mj = j.at("machine");
  CHECK(mj.at("vendor") == here.vendor);
  CHECK(mj.at("cpu") == here.model_name);
  CHECK(mj.at("cpuid_family") == here.family);
  CHECK(mj.at("cpuid_model") == here.model);
  CHECK(mj.at("kernels_isa") == kernels::isa_name(here.isa));
  CHECK(mj.at("kernels_isa_source") == here.isa_source);
  CHECK(mj.at("l1d_bytes") == here.l1d_bytes);
  CHECK(mj.at("l1d_shared_by") == here.l1d_shared_by);
  CHECK(mj.at("l2_bytes") == here.l2_bytes);
  CHECK(mj.at("l2_shared_by") == here.l2_shared_by);
  CHECK(mj.at("l3_bytes") == here.l3_bytes);
  CHECK(mj.at("cores") == here.cores);
  CHECK(mj.at("logical_processors") == here.logical_processors);
}

TEST_CASE("CLI: bench says when it runs more threads than the process may use") {
  test::TempDir dir;
  test::write_bytes(dir.file("m.onnx"),
                    import::export_onnx(test::tiny_squeezenet(1, 19, 10, 0.5)).value());
  const int cpus = runtime::usable_cpus();
  for (const int threads : {cpus, cpus + 1}) {
    auto r = test::run_cli(
        {"bench", dir.file("m.onnx"), "--runs", "2", "--threads", std::to_string(threads)});
    REQUIRE(r.exit_code == 0);
    CHECK((r.out.find("threads " + std::to_string(threads) + " (more than the " +
                      std::to_string(cpus) + " CPU") != std::string::npos) == (threads > cpus));
  }
}

TEST_CASE("CLI: bad inputs fail cleanly") {
  test::TempDir dir;
  Model m = test::tiny_squeezenet(1, 227, 10, 0.5);
  const std::string onnx = dir.file("m.onnx");
  test::write_bytes(onnx, import::export_onnx(m).value());
  SUBCASE("missing model") {
    expect_clean_failure(test::run_cli({"info", dir.file("nope.onnx")}), "nope.onnx");
  }
  SUBCASE("garbage model") {
    test::write_bytes(dir.file("bad.onnx"), "garbage");
    expect_clean_failure(test::run_cli({"info", dir.file("bad.onnx")}), "bad.onnx");
  }
  SUBCASE("caffemodel without its prototxt") {
    test::write_bytes(dir.file("w.caffemodel"), import::export_caffemodel(m).value());
    expect_clean_failure(test::run_cli({"info", dir.file("w.caffemodel")}), "--prototxt");
  }
  SUBCASE("a folder as the model") {
    const auto r = test::run_cli({"info", dir.file("")});
    expect_clean_failure(r, dir.file(""));
    CHECK(r.err.find("is a folder") != std::string::npos);
  }
  SUBCASE("unknown extension") {
    test::write_bytes(dir.file("m.bin"), "x");
    expect_clean_failure(test::run_cli({"info", dir.file("m.bin")}), "m.bin");
  }
  SUBCASE("image that does not decode: no partial output for the good ones") {
    test::write_bytes(dir.file("bad.jpg"), std::string("\xff\xd8\xff\xe0 not really", 16));
    test::write_bytes(dir.file("text.png"), "hello");
    expect_clean_failure(test::run_cli({"run", onnx, dir.file("bad.jpg")}), "bad.jpg");
    expect_clean_failure(test::run_cli({"run", onnx, dir.file("text.png")}), "text.png");
  }
  SUBCASE("a NaN or an infinity in a raw input tensor: refused, nothing written") {
    // ReLU and max pooling would drop it, and the scores would look like an answer.
    for (const float bad : {std::nanf(""), -INFINITY}) {
      std::vector<float> x(size_t{3} * 227 * 227, 0.5f);
      x[1000] = bad;
      test::write_bytes(dir.file("in.f32"),
                        std::string(reinterpret_cast<const char*>(x.data()), x.size() * 4));
      auto r = test::run_cli({"run", onnx, "--input-tensor", dir.file("in.f32"), "--output-tensor",
                              dir.file("out.f32")});
      expect_clean_failure(r, "in.f32");
      CHECK(r.err.find("input value 1000 of image 0 is " +
                       std::string(std::isnan(bad) ? "NaN" : "infinite")) != std::string::npos);
      CHECK_FALSE(std::filesystem::exists(dir.file("out.f32")));
    }
  }
  SUBCASE("finite inputs whose sums overflow float32: refused, nothing written") {
    test::write_bytes(dir.file("big.onnx"),
                      import::export_onnx(test::uniform_1x1(2, 3, 4, 2.0f)).value());
    std::vector<float> x(2 * 4 * 4, 0.5f);
    x[7] = 3e38f;
    test::write_bytes(dir.file("big.f32"),
                      std::string(reinterpret_cast<const char*>(x.data()), x.size() * 4));
    auto r = test::run_cli({"run", dir.file("big.onnx"), "--input-tensor", dir.file("big.f32"),
                            "--output-tensor", dir.file("big_out.f32")});
    expect_clean_failure(r, "big.f32");
    CHECK(r.err.find("output value 7 of image 0 is infinite") != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(dir.file("big_out.f32")));
    // Images: the second one overflows (the first is the Caffe mean: zeros in); nothing of the
    // first is printed, and the error names the second.
    Model rgb = test::uniform_1x1(3, 4, 8, 3e38f);
    Layer gap = make_layer(OpKind::kAvgPool, "g", "c");
    gap.pool.global = true;
    rgb.layers.push_back(gap);
    rgb.output = "g";
    test::write_bytes(dir.file("rgb.onnx"), import::export_onnx(rgb).value());
    const uint8_t mean[3] = {123, 117, 104}, bright[3] = {250, 250, 250};
    std::vector<uint8_t> a, b;
    for (int p = 0; p < 64; ++p)
      a.insert(a.end(), mean, mean + 3), b.insert(b.end(), bright, bright + 3);
    test::write_png_pixels(dir.file("mean.png"), 8, 8, 3, a.data());
    test::write_png_pixels(dir.file("bright.png"), 8, 8, 3, b.data());
    auto images = test::run_cli({"run", dir.file("rgb.onnx"), dir.file("mean.png"),
                                 dir.file("bright.png"), "--preprocess", "caffe", "-q"});
    expect_clean_failure(images, "bright.png");
    CHECK(images.err.find("bright.png: output value 0 is infinite") != std::string::npos);
    CHECK(test::run_cli(
              {"run", dir.file("rgb.onnx"), dir.file("mean.png"), "--preprocess", "caffe", "-q"})
              .exit_code == 0);
    for (const char* c : {"a", "b", "c", "d"})
      std::filesystem::create_directories(dir.file("set/" + std::string(c)));
    std::filesystem::copy_file(dir.file("mean.png"), dir.file("set/a/mean.png"));
    std::filesystem::copy_file(dir.file("bright.png"), dir.file("set/c/bright.png"));
    auto eval = test::run_cli(
        {"eval", dir.file("rgb.onnx"), "--images", dir.file("set"), "--preprocess", "caffe", "-q"});
    INFO(eval.err);
    CHECK(eval.exit_code == 1);
    CHECK(eval.out.empty());
    CHECK(eval.err.find("c/bright.png: output value 0 is infinite") != std::string::npos);
  }
  SUBCASE("missing image folder") {
    test::write_bytes(dir.file("labels.txt"), "n01 one\n");
    expect_clean_failure(test::run_cli({"eval", onnx, "--images", dir.file("none"), "--labels",
                                        dir.file("labels.txt")}),
                         "none");
  }
  SUBCASE("a class list that is not one: binary data, a line without a class id") {
    test::write_bytes(dir.file("img.jpg"), std::string("\xff\xd8\xff\xe0\0\x10JFIF\n \n \n", 14));
    auto binary = test::run_cli({"run", onnx, dir.file("img.jpg"), "--labels", dir.file("img.jpg")});
    expect_clean_failure(binary, "img.jpg");
    CHECK(binary.err.find("not a text class list") != std::string::npos);
    test::write_bytes(dir.file("spaced.txt"), "n01 one\n two\n");
    auto spaced =
        test::run_cli({"run", onnx, dir.file("img.jpg"), "--labels", dir.file("spaced.txt")});
    expect_clean_failure(spaced, "spaced.txt");
    CHECK(spaced.err.find("line 2: no class id") != std::string::npos);
  }
}

TEST_CASE("CLI: run --input-tensor takes any count of inputs, in passes the budget allows") {
  test::TempDir dir;
  const Model m = test::tiny_squeezenet(1, 31, 10, 0.5);
  const std::string onnx = dir.file("m.onnx");
  test::write_bytes(onnx, import::export_onnx(m).value());
  std::mt19937 rng(2);
  const std::vector<float> x = test::random_floats(rng, size_t{1000} * 3 * 31 * 31);
  test::write_bytes(dir.file("in.f32"),
                    std::string(reinterpret_cast<const char*>(x.data()), x.size() * 4));
  // 1000 images' activations need ~16 MiB, a pass of 100 more than 1 MiB: the passes are
  // halved until they fit, and give the bits of one pass over all.
  auto small = test::run_cli({"run", onnx, "--input-tensor", dir.file("in.f32"), "--output-tensor",
                              dir.file("small.f32"), "--max-memory", "1"});
  INFO(small.err);
  REQUIRE(small.exit_code == 0);
  REQUIRE(test::run_cli({"run", onnx, "--input-tensor", dir.file("in.f32"), "--output-tensor",
                         dir.file("big.f32"), "--max-memory", "2000"})
              .exit_code == 0);
  CHECK(test::read_bytes(dir.file("small.f32")).size() == 1000 * 10 * 4);
  CHECK(test::read_bytes(dir.file("small.f32")) == test::read_bytes(dir.file("big.f32")));
}

TEST_CASE("CLI: quantize, encode, info and decode round trip; outputs are never overwritten") {
  test::TempDir dir;
  Model m = test::tiny_squeezenet(5, 19, 10, 0.4);
  const std::string onnx = dir.file("m.onnx"), sqz = dir.file("m.sqz");
  test::write_bytes(onnx, import::export_onnx(m).value());
  auto q = test::run_cli({"quantize", onnx, "--bits", "4", "--layer-bits", "conv1=6", "-o", sqz});
  INFO(q.err);
  REQUIRE(q.exit_code == 0);
  CHECK(q.out.find("conv1") != std::string::npos);
  CHECK(q.out.find("wrote") != std::string::npos);
  const std::string first = test::read_bytes(sqz);
  auto again = test::run_cli({"quantize", onnx, "--bits", "3", "-o", sqz});
  CHECK(again.exit_code == 1);
  CHECK(again.err.find("--force") != std::string::npos);
  CHECK(test::read_bytes(sqz) == first);  // untouched
  CHECK(test::run_cli({"quantize", onnx, "--bits", "3", "-o", sqz, "--force"}).exit_code == 0);
  auto info = test::run_cli({"info", sqz});
  CHECK(info.exit_code == 0);
  CHECK(info.out.find("total " + std::to_string(test::read_bytes(sqz).size()) + " bytes") !=
        std::string::npos);
  auto dec = test::run_cli({"decode", sqz, "-o", dir.file("back.onnx")});
  CHECK(dec.exit_code == 0);
  auto enc = test::run_cli({"encode", dir.file("back.onnx"), "-o", dir.file("again.sqz")});
  CHECK(enc.exit_code == 0);
  int convs = 0;
  for (const Layer& l : m.layers) convs += l.op == OpKind::kConvolution;
  INFO(enc.err);
  const std::string all_shared = std::to_string(convs) + " layers with codebooks, 0 float32";
  CHECK(enc.err.find(all_shared) != std::string::npos);  // decoded values adopted again
  // A .sqz whose layers have codebooks already: counted as such, not as none.
  auto re = test::run_cli({"encode", sqz, "-o", dir.file("re.sqz")});
  CHECK(re.exit_code == 0);
  CHECK(re.err.find(all_shared) != std::string::npos);
  auto caffe = test::run_cli({"decode", sqz, "-o", dir.file("back.caffemodel")});
  CHECK(caffe.exit_code == 0);
  CHECK(test::run_cli({"info", dir.file("back.caffemodel")}).exit_code == 0);  // finds .prototxt
  // Usage errors: bad bits, unknown layer, bad --layer-bits syntax.
  CHECK(test::run_cli({"quantize", onnx, "--bits", "0", "-o", dir.file("x.sqz")}).exit_code == 2);
  auto unknown =
      test::run_cli({"quantize", onnx, "--layer-bits", "nope=3", "-o", dir.file("x.sqz")});
  CHECK(unknown.exit_code == 1);
  CHECK(unknown.err.find("'nope'") != std::string::npos);
  CHECK(test::run_cli({"quantize", onnx, "--layer-bits", "conv1", "-o", dir.file("x.sqz")})
            .exit_code == 2);
}

TEST_CASE("CLI: prune with an external retraining command") {
  test::TempDir dir;
  Model m = test::tiny_squeezenet(6, 19, 10);
  const std::string onnx = dir.file("m.onnx");
  test::write_bytes(onnx, import::export_onnx(m).value());
  const std::string before = test::read_bytes(onnx);
  const std::string tool = std::string("'") + SQZ_FAKE_RETRAIN_PATH + "'";
  auto r = test::run_cli({"prune", onnx, "--density", "0.5", "--steps", "2", "--retrain-cmd",
                          tool + " shift {in} {out}", "-o", dir.file("p.onnx")});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("reset to 0") != std::string::npos);
  auto pruned = import::import_onnx(dir.file("p.onnx"));
  REQUIRE(pruned.is_ok());
  for (size_t i = 0; i < m.layers.size(); ++i) {
    const Layer &a = m.layers[i], &b = pruned->layers[i];
    if (a.op != OpKind::kConvolution) continue;
    int64_t kept = 0;
    for (size_t k = 0; k < a.weight.data.size(); ++k) {
      if (b.weight.data[k] == 0.0f) continue;  // pruned: zero again after the retraining
      ++kept;
      // Kept weights carry the retrained values: two steps of +0.01 after their pruning.
      CHECK(b.weight.data[k] == doctest::Approx(a.weight.data[k] + 0.02f).epsilon(1e-4));
    }
    CHECK(std::llabs(kept - std::llround(0.5 * a.weight.numel())) <= 1);
  }
  CHECK(test::read_bytes(onnx) == before);  // the input is never modified
  for (const char* mode : {"fail", "nothing", "reshape"}) {
    auto bad = test::run_cli({"prune", onnx, "--density", "0.5", "--retrain-cmd",
                              tool + " " + mode + " {in} {out}", "-o",
                              dir.file(std::string(mode) + ".onnx")});
    INFO(mode << ": " << bad.err);
    CHECK(bad.exit_code == 1);
    CHECK(bad.err.find("retrain command") != std::string::npos);
    CHECK(std::count(bad.err.begin(), bad.err.end(), '\n') == 1);
    CHECK_FALSE(std::filesystem::exists(dir.file(std::string(mode) + ".onnx")));
  }
  CHECK(test::run_cli({"prune", onnx, "--density", "1.5", "-o", dir.file("x.onnx")}).exit_code ==
        2);
  CHECK(
      test::run_cli({"prune", onnx, "--density", "0.5", "--quality", "1", "-o", dir.file("x.onnx")})
          .exit_code == 2);
  auto kernels = test::run_cli(
      {"prune", onnx, "--density", "0.5", "--granularity", "kernel", "-o", dir.file("k.sqz")});
  REQUIRE(kernels.exit_code == 0);
  auto kf = format::read_sqz(dir.file("k.sqz"));
  REQUIRE(kf.is_ok());
  for (const Layer& l : kf->model.layers) {
    const int64_t window = l.conv.kernel_h * l.conv.kernel_w;
    if (l.op != OpKind::kConvolution || window == 1) continue;
    INFO("layer " << l.name);
    for (int64_t k = 0; k * window < l.weight.numel(); ++k) {
      const auto first = l.mask.begin() + k * window;
      const auto on = std::count(first, first + window, uint8_t{1});
      CHECK((on == 0 || on == window));
    }
  }
  auto granularity = test::run_cli(
      {"prune", onnx, "--density", "0.5", "--granularity", "row", "-o", dir.file("x.onnx")});
  CHECK(granularity.exit_code == 2);
  CHECK(granularity.err.find("weight or kernel") != std::string::npos);
  auto unknown = test::run_cli(
      {"prune", onnx, "--density", "0.5", "--layer-density", "zz=0.1", "-o", dir.file("x.onnx")});
  CHECK(unknown.exit_code == 1);
  CHECK(unknown.err.find("'zz'") != std::string::npos);
}

TEST_CASE("CLI: sensitivity writes its table, JSON and SVG, and eval scores labelled images") {
  test::TempDir dir;
  Model m = test::tiny_squeezenet(8, 31, 3);
  test::write_bytes(dir.file("m.onnx"), import::export_onnx(m).value());
  std::filesystem::create_directory(dir.file("images"));
  test::write_bytes(dir.file("synsets.txt"), "n001 zero\nn002 one\nn003 two\n");
  for (int i = 0; i < 6; ++i)
    test::write_png(
        dir.file("images/n00" + std::to_string(1 + i % 3) + "_img" + std::to_string(i) + ".png"),
        40 + i, 36, static_cast<uint32_t>(i));
  auto r = test::run_cli({"sensitivity", dir.file("m.onnx"), "--images", dir.file("images"),
                          "--densities", "0.5,0.1", "-o", dir.file("sens")});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const std::string csv = test::read_bytes(dir.file("sens/sensitivity.csv"));
  CHECK(std::count(csv.begin(), csv.end(), '\n') == 1 + 5 * 2);  // header + 5 layers x 2
  CHECK(test::read_bytes(dir.file("sens/sensitivity.svg")).find("<svg") == 0);
  CHECK(test::read_bytes(dir.file("sens/sensitivity.json")).find("\"proposed_densities\"") !=
        std::string::npos);
  CHECK(r.out.find("--layer-density conv1=") != std::string::npos);
  // A second run refuses to overwrite.
  auto again = test::run_cli(
      {"sensitivity", dir.file("m.onnx"), "--images", dir.file("images"), "-o", dir.file("sens")});
  CHECK(again.exit_code == 1);
  auto eval = test::run_cli({"eval", dir.file("m.onnx"), "--images", dir.file("images"), "--json"});
  CHECK(eval.exit_code == 0);
  CHECK(eval.out.find("\"images\": 6") != std::string::npos);
}

TEST_CASE("CLI: interrupted writes and a full disk leave no partial output") {
  test::TempDir dir;
  Model m = test::tiny_squeezenet(9, 19, 10, 1.0);
  const std::string onnx = dir.file("m.onnx"), out = dir.file("out.onnx");
  test::write_bytes(onnx, import::export_onnx(m).value());
  auto leftovers = [&] {
    int n = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir.path()))
      n += e.path().filename().string().find(".sqz-tmp-") != std::string::npos;
    return n;
  };
  // SIGTERM in the middle of a slowed-down write (SQZ_TEST_WRITE_DELAY_MS): no output, no
  // temporary file. (SIGINT takes the same path; a background job of a script ignores it.)
  const std::string cmd =
      "SQZ_TEST_WRITE_DELAY_MS=400 '" SQZ_CLI_PATH "' decode '" + onnx + "' -o '" + out +
      "' >/dev/null 2>&1 & pid=$!; sleep 0.6; kill -TERM $pid; wait $pid; echo $?";
  CHECK(std::atoi(test::shell_first_line(cmd).c_str()) == 143);  // died of SIGTERM
  CHECK_FALSE(std::filesystem::exists(out));
  CHECK(leftovers() == 0);
  // The same for SIGHUP (a closed terminal).
  std::string hup = cmd;
  hup.replace(hup.find("kill -TERM"), 10, "kill -HUP");
  CHECK(std::atoi(test::shell_first_line(hup).c_str()) == 129);  // died of SIGHUP
  CHECK_FALSE(std::filesystem::exists(out));
  CHECK(leftovers() == 0);
  // Disk full (a file-size limit of 4 KiB): a clean error, the existing output untouched.
  test::write_bytes(out, "precious");
  const std::string full = "ulimit -f 4; '" SQZ_CLI_PATH "' decode '" + onnx + "' -o '" + out +
                           "' --force >/dev/null 2>" + dir.file("err.txt") + "; echo $?";
  CHECK(std::atoi(test::shell_first_line(full).c_str()) == 1);
  const std::string err = test::read_bytes(dir.file("err.txt"));
  CHECK(err.find(out) != std::string::npos);
  CHECK(err.find("write failed") != std::string::npos);
  CHECK(test::read_bytes(out) == "precious");
  CHECK(leftovers() == 0);
}
