// Hostile and careless inputs on the surfaces around the model: class lists, folder layouts,
// label files, preprocessing records and numeric options. Each case ends in exit 1 or 2 with
// one line naming the file or the option, under the caps test_hostile.cc uses, or gives the
// right answer; never a wrong answer with exit 0.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "hostile_util.h"
#include "sqz/import/exporters.h"
#include "sqz/format/sqz_file.h"
#include "sqz/pipeline/labels.h"
#include "sqz/pipeline/preprocessing.h"
#include "test_util.h"

using namespace sqz;
namespace fs = std::filesystem;

namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr double kTimeCap = 20;
#else
constexpr double kTimeCap = 5;
#endif
constexpr int64_t kAddressSpaceMib = 3072;
constexpr double kRssCapMib = 512;

test::CappedRun run_cli_capped(const std::vector<std::string>& args) {
  std::vector<std::string> argv{SQZ_CLI_PATH};
  argv.insert(argv.end(), args.begin(), args.end());
  return test::run_capped(argv, kAddressSpaceMib, kTimeCap);
}

// The command ends with `exit` (1 or 2) and one error line on stderr, the last, that contains
// `names` (compress and report print their stages and notes before it).
void expect_refused(const std::vector<std::string>& args, int exit, const std::string& names) {
  const test::CappedRun r = run_cli_capped(args);
  std::string what;
  for (const std::string& a : args) what += a + " ";
  INFO(what << "-> exit " << r.exit_code << ", " << r.peak_rss_mib << " MiB; stderr: " << r.err);
  CHECK_FALSE(r.timed_out);
  CHECK(r.signal == 0);
  CHECK(r.exit_code == exit);
  CHECK(r.peak_rss_mib < kRssCapMib);
  REQUIRE_FALSE(r.err.empty());
  CHECK(r.err.back() == '\n');
  const size_t start = r.err.rfind('\n', r.err.size() - 2);
  const std::string last = r.err.substr(start == std::string::npos ? 0 : start + 1);
  CHECK(last.rfind("squeeze-compress", 0) == 0);
  CHECK(last.find(names) != std::string::npos);
  size_t errors = 0;
  for (size_t at = 0; (at = r.err.find("squeeze-compress", at)) != std::string::npos; ++at)
    errors += at == 0 || r.err[at - 1] == '\n';
  CHECK(errors == 1);
}

// A 10-class model (input 3x19x19) as a .sqz, recording `metadata`.
std::string write_model(const test::TempDir& dir, const std::string& name,
                        const format::Metadata& metadata = {}, int64_t in_size = 19) {
  const Model m = test::tiny_squeezenet(3, in_size, 10);
  std::string bytes;
  format::SqzEncodeOptions o;
  o.metadata = metadata;
  REQUIRE(format::encode_sqz(m, o, &bytes).is_ok());
  const std::string path = dir.file(name);
  test::write_bytes(path, bytes);
  return path;
}

// An ONNX of the same model with `metadata` (two "preprocess" entries write two records).
std::string write_onnx(const test::TempDir& dir, const std::string& name,
                       const format::Metadata& metadata) {
  auto bytes = import::export_onnx(test::tiny_squeezenet(3, 19, 10), metadata);
  REQUIRE(bytes.is_ok());
  const std::string path = dir.file(name);
  test::write_bytes(path, *bytes);
  return path;
}

// A class list of n classes "c<i> name<i>".
std::string write_class_list(const test::TempDir& dir, const std::string& name, int n) {
  std::string text;
  for (int i = 0; i < n; ++i) text += "c" + std::to_string(i) + " name" + std::to_string(i) + "\n";
  test::write_bytes(dir.file(name), text);
  return dir.file(name);
}

// Images of classes `classes` as ImageFolder sub-folders c<k>/ of root, two each.
void write_image_folder(const std::string& root, const std::vector<int>& classes) {
  for (int c : classes)
    for (int i = 0; i < 2; ++i) {
      fs::create_directories(root + "/c" + std::to_string(c));
      test::write_png(root + "/c" + std::to_string(c) + "/" + std::to_string(i) + ".png", 30, 30,
                      static_cast<uint32_t>(c * 7 + i));
    }
}

nlohmann::json eval_json(const std::vector<std::string>& args) {
  std::vector<std::string> a = args;
  a.insert(a.begin() + 1, "--json");
  const auto r = test::run_cli(a);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  return nlohmann::json::parse(r.out);
}

const char* kCaffeRecord =
    "resize=square:32 crop=19x19 channels=bgr divisor=1 mean=104,117,123 std=1,1,1";

}  // namespace

TEST_CASE("labels that do not fit the model are refused, or mapped through the class list") {
  test::TempDir dir;
  const std::string model = write_model(dir, "m.sqz");
  const std::string subset = dir.file("subset");
  write_image_folder(subset, {2, 5, 7});
  // Three class folders scored as classes 0..2 of ten outputs: refused, naming --labels.
  expect_refused({"eval", model, "--images", subset}, 1, "--labels");
  // Through the class list, each folder keeps its class: the same as a label file naming them.
  const std::string list = write_class_list(dir, "classes.txt", 10);
  std::string label_file;
  for (int c : {2, 5, 7})
    for (int i = 0; i < 2; ++i)
      label_file +=
          "c" + std::to_string(c) + "/" + std::to_string(i) + ".png\t" + std::to_string(c) + "\n";
  test::write_bytes(dir.file("labels.tsv"), label_file);
  const auto mapped = eval_json({"eval", model, "--images", subset, "--labels", list});
  const auto flat =
      eval_json({"eval", model, "--images", subset, "--label-file", dir.file("labels.tsv")});
  CHECK(mapped["images"] == 6);
  CHECK(mapped["top1"] == flat["top1"]);
  CHECK(mapped["top5"] == flat["top5"]);
  // Folders named by class name rather than id map the same way.
  for (int c : {2, 5, 7})
    fs::rename(subset + "/c" + std::to_string(c), subset + "/name" + std::to_string(c));
  const auto by_name = eval_json({"eval", model, "--images", subset, "--labels", list});
  CHECK(by_name["top1"] == flat["top1"]);
  // A class list of another size, a label past the outputs, many empty class folders.
  expect_refused(
      {"eval", model, "--images", subset, "--labels", write_class_list(dir, "eleven.txt", 11)}, 1,
      "eleven.txt");
  test::write_bytes(dir.file("far.tsv"), "name2/0.png\t5000\n");
  expect_refused({"eval", model, "--images", subset, "--label-file", dir.file("far.tsv")}, 1,
                 "0.png");
  const std::string empty = dir.file("empty_folders");
  write_image_folder(empty, {0});
  for (int i = 1; i < 300; ++i) fs::create_directories(empty + "/d" + std::to_string(i));
  expect_refused({"eval", model, "--images", empty}, 1, "--labels");
  expect_refused({"report", model, "--images", empty}, 1, "--labels");
  expect_refused({"sensitivity", model, "--images", empty, "-o", dir.file("s")}, 1, "--labels");
  // compress --train on 12 class folders for 10 outputs: refused before any step.
  const std::string twelve = dir.file("twelve");
  write_image_folder(twelve, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
  expect_refused(
      {"compress", model, "--train", twelve, "--train-batch", "4", "-o", dir.file("t.sqz")}, 1,
      "--labels");
  CHECK_FALSE(fs::exists(dir.file("t.sqz")));
}

TEST_CASE("label-file paths stay inside the folder") {
  test::TempDir dir;
  const std::string model = write_model(dir, "m.sqz");
  write_image_folder(dir.file("set"), {0});
  test::write_png(dir.file("outside.png"), 30, 30, 1);
  test::write_bytes(dir.file("up.tsv"), "c0/0.png\t0\n../outside.png\t0\n");
  expect_refused({"eval", model, "--images", dir.file("set"), "--label-file", dir.file("up.tsv")},
                 1, "up.tsv");
  test::write_bytes(dir.file("abs.tsv"), dir.file("outside.png") + "\t0\n");
  expect_refused({"eval", model, "--images", dir.file("set"), "--label-file", dir.file("abs.tsv")},
                 1, "abs.tsv");
}

TEST_CASE("report measures each model with its own input and recorded preprocessing") {
  test::TempDir dir;
  const std::string small = write_model(dir, "small.sqz", {{"preprocess", kCaffeRecord}});
  const std::string large = write_model(dir, "large.sqz",
                                        {{"preprocess",
                                          "resize=shorter:40 crop=27x27 channels=rgb divisor=255 "
                                          "mean=0.5,0.5,0.5 std=0.25,0.25,0.25"}},
                                        27);
  write_image_folder(dir.file("set"), {0, 3});
  const std::string list = write_class_list(dir, "classes.txt", 10);
  const auto r = test::run_cli(
      {"report", small, large, "--images", dir.file("set"), "--labels", list, "--json"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const auto j = nlohmann::json::parse(r.out);
  // Each measured on all four images at its own size (a 27x27 model fed 19x19 inputs would
  // have failed or read past them).
  int measured = 0;
  for (const auto& p : j["points"]) measured += p["images"] == 4;
  CHECK(measured == 2);
  // The same model alone gives the same accuracy as inside the pair.
  const auto alone =
      test::run_cli({"report", large, "--images", dir.file("set"), "--labels", list, "--json"});
  REQUIRE(alone.exit_code == 0);
  CHECK(nlohmann::json::parse(alone.out)["points"][0]["top1"] == j["points"][1]["top1"]);
  // A reference whose input differs from a model's cannot be compared with it.
  expect_refused(
      {"report", small, large, "--images", dir.file("set"), "--labels", list, "--reference", small},
      1, "large.sqz");
}

TEST_CASE("preprocessing records: one strict grammar for every reader and writer") {
  test::TempDir dir;
  const std::string images = dir.file("set");
  write_image_folder(images, {0});
  const std::string image = images + "/c0/0.png";
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"garbage", "this is not a record"},
      {"unknown_key", std::string(kCaffeRecord) + " gamma=2"},
      {"nan", "resize=square:32 crop=19x19 channels=bgr divisor=nan mean=1,2,3 std=1,1,1"},
      {"std0", "resize=square:32 crop=19x19 channels=bgr divisor=1 mean=1,2,3 std=1,0,1"},
      {"repeat_lack", "resize=square:32 crop=19x19 channels=bgr divisor=1 mean=1,2,3 mean=1,2,3"},
      {"repeat", std::string(kCaffeRecord) + " std=1,1,1"},
      {"huge_resize", "resize=square:16384 crop=19x19 channels=bgr divisor=1 mean=1,2,3 std=1,1,1"},
      {"tiny_std", "resize=square:32 crop=19x19 channels=bgr divisor=1 mean=1,2,3 std=1e-40,1,1"},
      {"resize_below_crop",
       "resize=square:10 crop=19x19 channels=bgr divisor=1 mean=1,2,3 std=1,1,1"}};
  for (const auto& [name, record] : bad) {
    CAPTURE(name);
    CHECK_FALSE(pipeline::parse_preprocess(record).is_ok());
    const std::string onnx = write_onnx(dir, name + ".onnx", {{"preprocess", record}});
    for (const char* command : {"encode", "quantize", "prune"}) {
      std::vector<std::string> args{command, onnx, "-o", dir.file(name + ".sqz")};
      if (std::string(command) == "prune") args.insert(args.end(), {"--density", "0.5"});
      expect_refused(args, 1, onnx);
      CHECK_FALSE(fs::exists(dir.file(name + ".sqz")));
    }
    expect_refused({"run", onnx, image}, 1, onnx);
  }
  const std::string twice =
      write_onnx(dir, "twice.onnx", {{"preprocess", kCaffeRecord}, {"preprocess", kCaffeRecord}});
  expect_refused({"run", twice, image}, 1, "twice.onnx");
  expect_refused(
      {"decode",
       write_model(dir, "twice.sqz", {{"preprocess", kCaffeRecord}, {"preprocess", kCaffeRecord}}),
       "-o", dir.file("twice_out.onnx")},
      1, "twice.sqz");
  // Changing a recorded preprocessing needs its own flag, and says so.
  const std::string recorded = write_onnx(dir, "recorded.onnx", {{"preprocess", kCaffeRecord}});
  expect_refused(
      {"encode", recorded, "--preprocess", "torchvision", "-o", dir.file("r.sqz"), "--force"}, 2,
      "--re-record-preprocess");
  expect_refused({"compress", recorded, "--bits", "4", "--preprocess", "torchvision", "-o",
                  dir.file("c.sqz"), "--force"},
                 2, "--re-record-preprocess");
  const auto changed = test::run_cli({"encode", recorded, "--preprocess", "torchvision",
                                      "--re-record-preprocess", "-o", dir.file("r.sqz")});
  CHECK(changed.exit_code == 0);
  CHECK(changed.err.find("note: ") != std::string::npos);
  auto file = format::read_sqz(dir.file("r.sqz"));
  REQUIRE(file.is_ok());
  CHECK(pipeline::recorded_preprocess(file->metadata).value().find("channels=rgb") !=
        std::string::npos);
}

TEST_CASE("numeric and text options out of range are usage errors naming the option") {
  test::TempDir dir;
  const std::string model = write_model(dir, "m.sqz");
  write_image_folder(dir.file("set"), {0});
  const std::string image = dir.file("set/c0/0.png");
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"run", model, image, "--std", "1e-40", "--force"}, "std"},
      {{"run", model, image, "--pixel-divisor", "1e-45"}, "--pixel-divisor"},
      {{"run", model, image, "--pixel-divisor", "0"}, "--pixel-divisor"},
      {{"run", model, image, "--resize", "0"}, "--resize"},
      {{"run", model, image, "--resize", "8192", "--force"}, "resize"},
      {{"run", model, image, "--std", ""}, "--std"},
      {{"run", model, image, "--mean", "1,2"}, "--mean"},
      {{"run", model, image, "--top", "-3"}, "--top"},
      {{"run", model, image, "--threads", "0"}, "--threads"},
      {{"eval", model, "--images", dir.file("set"), "--limit", "-1"}, "--limit"},
      {{"eval", model, "--images", dir.file("set"), "--labels", ""}, "--labels"},
      {{"compress", model, "-o", dir.file("c.sqz"), "--density", "-0.5"}, "--density"},
      {{"compress", model, "-o", dir.file("c.sqz"), "--density", "nan"}, "--density"},
      {{"compress", model, "-o", dir.file("c.sqz"), "--calib-lr", "-1"}, "--calib-lr"},
      {{"compress", model, "-o", dir.file("c.sqz"), "--train-lr", "0"}, "--train-lr"},
      {{"compress", model, "-o", dir.file("c.sqz"), "--layer-bits", "conv1=4.7"}, "--layer-bits"},
      {{"compress", model, "-o", dir.file("c.sqz"), "--layer-bits", "conv1=nan"}, "--layer-bits"},
      {{"compress", model, "-o", dir.file("c.sqz"), "--calib-batch", "0"}, "--calib-batch"},
      {{"compress", model, "-o", dir.file("c.sqz"), "--dropout", "1"}, "--dropout"},
      {{"prune", model, "-o", dir.file("p.sqz"), "--density", "0.5", "--layer-density",
        "conv1=1.5"},
       "--layer-density"},
      {{"bench", model, "--threads", "100000"}, "--threads"},
      {{"bench", model, "--batch", "0"}, "--batch"},
      {{"bench", model, "--max-memory", "0"}, "--max-memory"},
      {{"sensitivity", model, "--images", dir.file("set"), "-o", dir.file("s"), "--target-density",
        "2"},
       "--target-density"}};
  for (const auto& [args, option] : cases) expect_refused(args, 2, option);
  CHECK_FALSE(fs::exists(dir.file("c.sqz")));
}

TEST_CASE("memory and time: threads, batches, config files and resizes are planned first") {
  test::TempDir dir;
  const std::string model = write_model(dir, "m.sqz");
  write_image_folder(dir.file("set"), {0, 1});
#if !defined(__SANITIZE_ADDRESS__)
  // 1000 threads' stacks do not fit the test's address-space cap: an error, never a hang.
  const test::CappedRun threads =
      run_cli_capped({"bench", model, "--threads", "1000", "--runs", "1"});
  INFO(threads.err);
  CHECK_FALSE(threads.timed_out);
  CHECK((threads.exit_code == 0 || threads.exit_code == 1));
  if (threads.exit_code == 1) CHECK(threads.err.find("threads") != std::string::npos);
#endif
  // A batch whose activations exceed the budget is refused before its inputs are allocated.
  expect_refused({"bench", model, "--batch", "4096", "--max-memory", "16"}, 1, "m.sqz");
  // A calibration or training batch is planned against --max-memory before any step.
  expect_refused({"compress", model, "--bits", "4", "--calib", dir.file("set"), "--calib-batch",
                  "64", "--max-memory", "1", "-o", dir.file("c.sqz")},
                 1, "raise the limit");
  expect_refused({"compress", model, "--train", dir.file("set"), "--labels",
                  write_class_list(dir, "classes.txt", 10), "--train-batch", "64", "--max-memory",
                  "1", "-o", dir.file("c.sqz")},
                 1, "raise the limit");
  // --config: a FIFO would block, /dev/zero never end.
  const std::string fifo = dir.file("config.fifo");
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  expect_refused({"compress", model, "--config", fifo, "-o", dir.file("c.sqz")}, 1, fifo);
  expect_refused({"compress", model, "--config", "/dev/zero", "-o", dir.file("c.sqz")}, 1,
                 "/dev/zero");
  test::write_bytes(dir.file("big.cfg"), std::string(size_t{2} << 20, '#'));
  expect_refused({"compress", model, "--config", dir.file("big.cfg"), "-o", dir.file("c.sqz")}, 1,
                 "big.cfg");
  CHECK_FALSE(fs::exists(dir.file("c.sqz")));
}

TEST_CASE("multi-file outputs are written all or none; unusable images are counted") {
  test::TempDir dir;
  const std::string model = write_model(dir, "m.sqz");
  const std::string set = dir.file("set");
  write_image_folder(set, {0, 1});
  const std::string out = dir.file("sens");
  fs::create_directories(out + "/sensitivity.svg");  // the third output cannot be written
  expect_refused(
      {"sensitivity", model, "--images", set, "--labels", write_class_list(dir, "classes.txt", 10),
       "-o", out, "--limit", "2", "--densities", "0.5"},
      1, "sensitivity.svg");
  CHECK_FALSE(fs::exists(out + "/sensitivity.csv"));
  CHECK_FALSE(fs::exists(out + "/sensitivity.json"));
  // A FIFO and a looping link with image names inside an eval folder: skipped with the note
  // every unusable image gets.
  REQUIRE(::mkfifo((set + "/c0/fifo.png").c_str(), 0600) == 0);
  fs::create_symlink("loop.jpg", set + "/c1/loop.jpg");
  const auto r =
      test::run_cli({"eval", model, "--images", set, "--labels", dir.file("classes.txt")});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("images 4") != std::string::npos);
  CHECK(r.out.find("2 skipped") != std::string::npos);
  CHECK(r.err.find("skipped 2 image(s)") != std::string::npos);
}

TEST_CASE("names with escape sequences never reach the terminal raw") {
  test::TempDir dir;
  const std::string model = write_model(dir, "m.sqz");
  const std::string folder = dir.file("set/c\x1b[31mred");
  fs::create_directories(folder);
  test::write_png(folder + "/a.png", 30, 30, 1);
  const auto r = test::run_cli({"run", model, folder + "/a.png"});
  CHECK(r.exit_code == 0);
  CHECK(r.out.find('\x1b') == std::string::npos);
  CHECK(r.err.find('\x1b') == std::string::npos);
}
