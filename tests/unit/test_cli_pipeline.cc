// The composed pipeline: compress (widths towards a size, codes, calibration, .sqz, held-out
// measurement) on a generated model and generated labelled images (pruning and report:
// test_cli_report.cc).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "cli_pipeline_fixture.h"
#include "sqz/format/sqz_file.h"

using namespace sqz;
using json = nlohmann::json;
using test::compress;
using test::Fixture;

namespace {

// The size of the file compress writes at `bits` everywhere, without calibration.
int64_t bytes_at_bits(const Fixture& f, const char* bits) {
  const std::string path = f.dir.file(std::string("bits") + bits + ".sqz");
  auto r = compress(f, path, {"--bits", bits, "--calib-steps", "0"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  return static_cast<int64_t>(std::filesystem::file_size(path));
}

// The settings line a file records (metadata "pipeline").
std::string summary_of(const format::SqzFile& file) {
  for (const auto& [key, value] : file.metadata)
    if (key == "pipeline") return value;
  return std::string();
}

// compress on fold 1 of 3 at 4 bits with `extra`; the file it wrote.
format::SqzFile compress_at_4_bits(const Fixture& f, const char* name,
                                   std::vector<std::string> extra) {
  std::vector<std::string> args = {"compress", f.onnx, "--calib", f.images, "--holdout-split",
                                   "1/3", "--bits", "4", "-o", f.dir.file(name)};
  args.insert(args.end(), extra.begin(), extra.end());
  auto r = test::run_cli(args);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto file = format::read_sqz(f.dir.file(name));
  REQUIRE(file.is_ok());
  return std::move(*file);
}

// How many layers' codes differ between two files of the same model.
int layers_recoded(const format::SqzFile& a, const format::SqzFile& b) {
  int n = 0;
  for (size_t i = 0; i < a.model.layers.size(); ++i)
    n += a.model.layers[i].quant.codes != b.model.layers[i].quant.codes;
  return n;
}

}  // namespace

TEST_CASE("compress: calibration moves centroids and biases, never codes or positions") {
  Fixture f;
  auto plain = compress(f, f.dir.file("plain.sqz"), {"--bits", "4", "--calib-steps", "0"});
  INFO(plain.err);
  REQUIRE(plain.exit_code == 0);
  auto calibrated = compress(f, f.dir.file("cal.sqz"), {"--bits", "4", "--json"});
  INFO(calibrated.err);
  REQUIRE(calibrated.exit_code == 0);
  const json table = json::parse(calibrated.out);
  CHECK(table["images"] == 6);  // the other half
  REQUIRE(table["stages"].size() == 2);
  CHECK(table["stages"][1]["bytes"] == std::filesystem::file_size(f.dir.file("cal.sqz")));
  CHECK(table["stages"][0]["agreement"] == 1.0);
  CHECK(table["widths"].size() == 5);  // every convolution, at --bits
  CHECK(table["widths"]["fire/e3"] == 4);
  auto a = format::read_sqz(f.dir.file("plain.sqz")), b = format::read_sqz(f.dir.file("cal.sqz"));
  REQUIRE(a.is_ok());
  REQUIRE(b.is_ok());
  bool centroids_moved = false, biases_moved = false;
  for (size_t i = 0; i < a->model.layers.size(); ++i) {
    const Layer &x = a->model.layers[i], &y = b->model.layers[i];
    if (x.op != OpKind::kConvolution) continue;
    CHECK(x.mask == y.mask);
    CHECK(x.quant.bits == y.quant.bits);
    // Codes may be renumbered when centroids cross (canonical order on write) but each
    // stored weight keeps its group: equal codes before <=> equal codes after.
    for (size_t k = 1; k < x.quant.codes.size(); ++k)
      CHECK((x.quant.codes[k] == x.quant.codes[k - 1]) ==
            (y.quant.codes[k] == y.quant.codes[k - 1]));
    centroids_moved |= x.quant.codebook != y.quant.codebook;
    biases_moved |= x.bias.data != y.bias.data;
  }
  CHECK(centroids_moved);
  CHECK(biases_moved);
  // The file remembers its calibration images; eval refuses them and accepts the others.
  bool listed = false;
  for (const auto& [key, value] : b->metadata)
    listed |= key == "calibration_images_crc32c" && value.size() == 6 * 9 - 1;
  CHECK(listed);
  auto refused = test::run_cli({"eval", f.dir.file("cal.sqz"), "--images", f.images});
  CHECK(refused.exit_code == 1);
  CHECK(refused.err.find("was calibrated on this image (6 of the 12 given)") != std::string::npos);
  CHECK(test::run_cli({"eval", f.onnx, "--images", f.images}).exit_code == 0);
  // Every later stage keeps the list: its weights come from those images too.
  const std::string cal = f.dir.file("cal.sqz"), onnx = f.dir.file("cal.onnx");
  REQUIRE(test::run_cli({"decode", cal, "-o", onnx}).exit_code == 0);
  const std::vector<std::vector<std::string>> stages{
      {"encode", cal, "-o", f.dir.file("re.sqz")},
      {"encode", onnx, "-o", f.dir.file("from_onnx.sqz")},
      {"quantize", cal, "--bits", "3", "-o", f.dir.file("q3.sqz")},
      {"prune", cal, "--density", "0.5", "-o", f.dir.file("p.sqz")},
      {"compress", cal, "--bits", "5", "-o", f.dir.file("again.sqz")}};
  for (const auto& args : stages) {
    INFO(args[0] << " " << args[1]);
    REQUIRE(test::run_cli(args).exit_code == 0);
    auto later = test::run_cli({"eval", args[args.size() - 1], "--images", f.images});
    CHECK_MESSAGE(later.exit_code == 1, args[0]);
    CHECK(later.err.find("(6 of the 12 given)") != std::string::npos);
  }
  // compress measures nothing on images its input was calibrated on.
  auto measured = test::run_cli({"compress", cal, "--calib", f.images, "--holdout-split", "1/2",
                                 "--bits", "5", "-o", f.dir.file("measured.sqz")});
  CHECK(measured.exit_code != 0);
  CHECK(measured.err.find("was calibrated on this image") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(f.dir.file("measured.sqz")));
}

TEST_CASE("compress: --target-bytes allocates widths that fit, from a config file") {
  Fixture f;
  const int64_t hi = bytes_at_bits(f, "8"), lo = bytes_at_bits(f, "3");
  REQUIRE(lo + 200 < hi);
  const int64_t target = (hi + lo) / 2;
  test::write_bytes(f.dir.file("c.cfg"), "target-bytes = " + std::to_string(target) +
                                             "\nwidths = 3,4,5,6,7,8\nprobe-images = 4\n");
  auto r = compress(f, f.dir.file("t.sqz"), {"--config", f.dir.file("c.cfg"), "-v"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const auto size = static_cast<int64_t>(std::filesystem::file_size(f.dir.file("t.sqz")));
  CHECK(size <= target);
  CHECK(size > lo);
  auto file = format::read_sqz(f.dir.file("t.sqz"));
  REQUIRE(file.is_ok());
  std::set<int> widths;
  for (const Layer& l : file->model.layers)
    if (l.op == OpKind::kConvolution) widths.insert(l.quant.bits);
  CHECK(widths.size() > 1);  // a mix, not one width everywhere
  // Unreachable targets and bad settings are clean errors.
  auto tiny = compress(f, f.dir.file("x.sqz"), {"--target-bytes", "100"});
  CHECK(tiny.exit_code == 1);
  CHECK(tiny.err.find("below the smallest reachable size") != std::string::npos);
  CHECK(test::run_cli({"compress", f.onnx, "-o", f.dir.file("x.sqz"), "--calib", f.images,
                       "--calib-split", "3/2"})
            .exit_code == 2);
  CHECK(compress(f, f.dir.file("x.sqz"), {"--widths", "8,4"}).exit_code == 2);
  CHECK(test::run_cli(
            {"compress", f.onnx, "-o", f.dir.file("x.sqz"), "--config", f.dir.file("missing.cfg")})
            .exit_code == 1);
  // A config naming another would have it ignored: refused.
  test::write_bytes(f.dir.file("outer.cfg"), "bits = 5\nconfig = " + f.dir.file("c.cfg") + "\n");
  auto nested = test::run_cli(
      {"compress", f.onnx, "-o", f.dir.file("x.sqz"), "--config", f.dir.file("outer.cfg")});
  CHECK(nested.exit_code == 1);
  CHECK(nested.err.find("outer.cfg: a config file cannot name another") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(f.dir.file("x.sqz")));
}

TEST_CASE("compress: --half-widths adds codebook sizes between whole bits; off by default") {
  Fixture f;
  const int64_t hi = bytes_at_bits(f, "6"), lo = bytes_at_bits(f, "4");
  auto widths_of = [&](const std::string& path, std::vector<std::string> extra) {
    extra.insert(extra.end(), {"--widths", "3,4,5,6,7", "--probe-images", "4", "--calib-steps",
                               "0", "--json"});
    auto r = compress(f, path, extra);
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    auto file = format::read_sqz(path);
    REQUIRE(file.is_ok());
    std::string summary;
    for (const auto& [key, value] : file->metadata)
      if (key == "pipeline") summary = value;
    std::vector<double> out;
    const json table = json::parse(r.out);
    for (const auto& [name, w] : table["widths"].items()) {
      const Layer* l = file->model.find_layer(name);
      REQUIRE(l);
      const double bits = w.get<double>();
      // A half width: more than 2^(b-1) and at most round(2^(b-1/2)) centroids in b-bit codes.
      CHECK(l->quant.bits == static_cast<int>(std::ceil(bits)));
      if (bits != std::floor(bits))
        CHECK(l->quant.codebook.size() <= static_cast<size_t>(std::lround(std::exp2(bits))));
      out.push_back(bits);
    }
    return std::make_pair(out, summary);
  };
  bool any_half = false;
  for (int i = 1; i <= 5; ++i) {
    const int64_t target = lo + (hi - lo) * i / 6;
    const std::string path = f.dir.file("h" + std::to_string(i) + ".sqz");
    auto [widths, summary] =
        widths_of(path, {"--target-bytes", std::to_string(target), "--half-widths"});
    CHECK(static_cast<int64_t>(std::filesystem::file_size(path)) <= target);
    CHECK(summary.find("half_widths=on") != std::string::npos);
    for (double w : widths) any_half |= w != std::floor(w);
    auto [whole, off] =
        widths_of(f.dir.file("w.sqz"), {"--target-bytes", std::to_string(target), "--force"});
    CHECK(off.find("half_widths") == std::string::npos);
    for (double w : whole) CHECK(w == std::floor(w));
  }
  CHECK(any_half);
}

TEST_CASE("compress: --codes sequential fits the target; --holdout-split holds one fold out") {
  Fixture f;
  auto narrow = compress(f, f.dir.file("n.sqz"), {"--bits", "3", "--calib-steps", "0"});
  auto wide = compress(f, f.dir.file("w.sqz"), {"--bits", "7", "--calib-steps", "0"});
  REQUIRE(narrow.exit_code == 0);
  REQUIRE(wide.exit_code == 0);
  const auto target = static_cast<int64_t>(std::filesystem::file_size(f.dir.file("n.sqz")) +
                                            std::filesystem::file_size(f.dir.file("w.sqz"))) / 2;
  auto r = test::run_cli({"compress", f.onnx, "--calib", f.images, "--holdout-split", "2/3",
                          "--codes", "sequential", "--target-bytes", std::to_string(target),
                          "--probe-images", "4", "--calib-steps", "0", "-o",
                          f.dir.file("s.sqz"), "--json", "-v"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.err.find("layer after layer") != std::string::npos);
  CHECK(static_cast<int64_t>(std::filesystem::file_size(f.dir.file("s.sqz"))) <= target);
  const json table = json::parse(r.out);
  CHECK(table["images"] == 4);  // fold 2 of 3 of the 12 images; the other 8 calibrate
  auto file = format::read_sqz(f.dir.file("s.sqz"));
  REQUIRE(file.is_ok());
  std::string summary, crcs;
  for (const auto& [key, value] : file->metadata) {
    if (key == "pipeline") summary = value;
    if (key.rfind("calibration_images_crc32c", 0) == 0) crcs += value + " ";
  }
  CHECK(summary.find("codes=sequential") != std::string::npos);
  CHECK(std::count(crcs.begin(), crcs.end(), ' ') == 8);
  // After sequential codes calibration runs only when its steps are asked for.
  auto quiet = test::run_cli({"compress", f.onnx, "--calib", f.images, "--holdout-split", "1/3",
                              "--bits", "4", "-o", f.dir.file("d.sqz")});
  INFO(quiet.err);
  REQUIRE(quiet.exit_code == 0);
  CHECK(quiet.err.find("calibration: not after sequential codes") != std::string::npos);
  // The codebook refit is off by default; on, the file records it and its codebooks differ.
  auto refitted = test::run_cli({"compress", f.onnx, "--calib", f.images, "--holdout-split",
                                 "1/3", "--bits", "4", "--codebook-refit", "-o",
                                 f.dir.file("k.sqz")});
  REQUIRE(refitted.exit_code == 0);
  auto refit = format::read_sqz(f.dir.file("k.sqz"));
  auto plain = format::read_sqz(f.dir.file("d.sqz"));
  REQUIRE(refit.is_ok());
  REQUIRE(plain.is_ok());
  int differ = 0;
  for (size_t i = 0; i < refit->model.layers.size(); ++i)
    differ += refit->model.layers[i].quant.codebook != plain->model.layers[i].quant.codebook;
  CHECK(differ > 0);
  CHECK(summary_of(*refit).find(" refit=on") != std::string::npos);
  CHECK(summary_of(*plain).find("refit") == std::string::npos);
  // The uniform (entropy-constrained) codebook: recorded, other codebooks, a bad name refused.
  auto uniform = test::run_cli({"compress", f.onnx, "--calib", f.images, "--holdout-split",
                                "1/3", "--bits", "4", "--method", "uniform", "-o",
                                f.dir.file("u.sqz")});
  REQUIRE(uniform.exit_code == 0);
  auto grid = format::read_sqz(f.dir.file("u.sqz"));
  REQUIRE(grid.is_ok());
  int moved = 0;
  for (size_t i = 0; i < grid->model.layers.size(); ++i)
    moved += grid->model.layers[i].quant.codebook != plain->model.layers[i].quant.codebook;
  CHECK(moved > 0);
  CHECK(summary_of(*grid).find(" method=uniform") != std::string::npos);
  CHECK(summary_of(*plain).find("method=") == std::string::npos);
  auto unknown = compress(f, f.dir.file("x.sqz"), {"--method", "lattice"});
  CHECK(unknown.exit_code == 2);
  CHECK(unknown.err.find("--method must be kmeans or uniform") != std::string::npos);
  // Coordinate descent on the codes: on by default (recorded), --code-descent 0 turns it off
  // (other codes), out of range refused.
  CHECK(summary_of(*plain).find(" descent=8") != std::string::npos);
  auto sweep = test::run_cli({"compress", f.onnx, "--calib", f.images, "--holdout-split", "1/3",
                              "--bits", "4", "--code-descent", "0", "-o", f.dir.file("cd.sqz")});
  INFO(sweep.err);
  REQUIRE(sweep.exit_code == 0);
  auto swept = format::read_sqz(f.dir.file("cd.sqz"));
  REQUIRE(swept.is_ok());
  CHECK(summary_of(*swept).find("descent") == std::string::npos);
  CHECK(layers_recoded(*swept, *plain) > 0);
  auto too_many = compress(f, f.dir.file("x.sqz"), {"--code-descent", "101"});
  CHECK(too_many.exit_code == 2);
  CHECK(too_many.err.find("--code-descent must be in 0..100") != std::string::npos);
  auto asked = test::run_cli({"compress", f.onnx, "--calib", f.images, "--holdout-split", "1/3",
                              "--bits", "4", "--calib-steps", "3", "-o", f.dir.file("e.sqz")});
  REQUIRE(asked.exit_code == 0);
  CHECK(asked.err.find("distilling centroids and biases") != std::string::npos);
  // The two ways to split are one choice; a split needs the folder.
  CHECK(compress(f, f.dir.file("x.sqz"), {"--holdout-split", "1/2"}).exit_code == 2);
  CHECK(test::run_cli({"compress", f.onnx, "-o", f.dir.file("x.sqz"), "--holdout-split", "1/2"})
            .exit_code == 2);
  CHECK(compress(f, f.dir.file("x.sqz"), {"--codes", "best"}).exit_code == 2);
  auto all_out = test::run_cli({"compress", f.onnx, "--calib", f.images, "--holdout-split",
                                "1/1", "-o", f.dir.file("x.sqz")});
  CHECK(all_out.exit_code == 1);
  CHECK(all_out.err.find("no image is left to calibrate on after the split 1/1") !=
        std::string::npos);
  CHECK_FALSE(std::filesystem::exists(f.dir.file("x.sqz")));
}

TEST_CASE("compress: pair moves on the codes by default, recorded; --code-pairs 0 turns them off") {
  Fixture f;
  for (const char* codes : {"sequential", "compensated"}) {
    INFO(codes);
    const format::SqzFile paired = compress_at_4_bits(f, "p.sqz", {"--codes", codes, "--force"});
    const format::SqzFile single =
        compress_at_4_bits(f, "s.sqz", {"--codes", codes, "--code-pairs", "0", "--force"});
    CHECK(summary_of(paired).find(" pairs=8") != std::string::npos);
    CHECK(summary_of(single).find("pairs") == std::string::npos);
    CHECK(layers_recoded(paired, single) > 0);
  }
  // With a target the widths are chosen without pair moves; the file's codes take them.
  const int64_t target = (bytes_at_bits(f, "3") + bytes_at_bits(f, "7")) / 2;
  auto r = test::run_cli({"compress", f.onnx, "--calib", f.images, "--holdout-split", "1/3",
                          "--target-bytes", std::to_string(target), "--probe-images", "4",
                          "--code-pairs", "3", "-o", f.dir.file("t.sqz")});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto sized = format::read_sqz(f.dir.file("t.sqz"));
  REQUIRE(sized.is_ok());
  CHECK(summary_of(*sized).find(" pairs=3") != std::string::npos);
  CHECK(static_cast<int64_t>(std::filesystem::file_size(f.dir.file("t.sqz"))) <= target);
  for (const char* bad : {"101", "-1", "two"}) {
    auto r = compress(f, f.dir.file("x.sqz"), {"--code-pairs", bad});
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("--code-pairs") != std::string::npos);
  }
  CHECK_FALSE(std::filesystem::exists(f.dir.file("x.sqz")));
}

TEST_CASE("compress: --block-steps tunes centroids and biases block by block, recorded") {
  Fixture f;
  auto run = [&](const std::string& out, std::vector<std::string> extra) {
    std::vector<std::string> args = {"compress", f.onnx, "--calib", f.images, "--holdout-split",
                                     "1/3", "--bits", "4", "-v", "-o", f.dir.file(out)};
    args.insert(args.end(), extra.begin(), extra.end());
    return test::run_cli(args);
  };
  auto plain = run("p.sqz", {});
  auto tuned = run("b.sqz", {"--block-steps", "20", "--block-lr", "1e-3", "--block-images", "6"});
  INFO(tuned.err);
  REQUIRE(plain.exit_code == 0);
  REQUIRE(tuned.exit_code == 0);
  CHECK(plain.err.find("block reconstruction") == std::string::npos);  // off by default
  CHECK(tuned.err.find("block reconstruction: centroids and biases, block by block, on 6 images") !=
        std::string::npos);
  CHECK(tuned.err.find("output error") != std::string::npos);  // each block's, with -v
  auto a = format::read_sqz(f.dir.file("p.sqz")), b = format::read_sqz(f.dir.file("b.sqz"));
  REQUIRE((a.is_ok() && b.is_ok()));
  int moved = 0;
  for (size_t i = 0; i < a->model.layers.size(); ++i) {
    const Layer &x = a->model.layers[i], &y = b->model.layers[i];
    CHECK(x.quant.codes == y.quant.codes);  // codes and positions stay
    CHECK(x.mask == y.mask);
    moved += x.quant.codebook != y.quant.codebook || x.bias.data != y.bias.data;
  }
  CHECK(moved > 0);
  std::string summary;
  for (const auto& [key, value] : b->metadata)
    if (key == "pipeline") summary = value;
  CHECK(summary.find(" blocks=20 block_lr=0.001 block_images=6") != std::string::npos);
  // Asked where it does not run (compensated codes): said, not silently dropped.
  auto elsewhere = run("c.sqz", {"--codes", "compensated", "--block-steps", "5"});
  REQUIRE(elsewhere.exit_code == 0);
  CHECK(elsewhere.err.find("block reconstruction follows sequential codes") != std::string::npos);
  auto bad = run("x.sqz", {"--block-steps", "-1"});
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.find("--block-steps must be in 0..100000") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(f.dir.file("x.sqz")));
}

TEST_CASE("compress: the switches that take no value are accepted; --no-augment drops the mirrors") {
  Fixture f;
  // Sequential codes (the default) read the moments: their images are mirrored too unless
  // --no-augment, so the codes differ.
  auto mirrored = compress(f, f.dir.file("m.sqz"), {"--bits", "4", "--calib-steps", "0", "-v"});
  auto plain = compress(f, f.dir.file("p.sqz"),
                        {"--bits", "4", "--calib-steps", "0", "--no-augment", "-v"});
  INFO(plain.err);
  REQUIRE(mirrored.exit_code == 0);
  REQUIRE(plain.exit_code == 0);
  CHECK(mirrored.err.find("images and their mirrors") != std::string::npos);
  CHECK(plain.err.find("their mirrors") == std::string::npos);
  CHECK(test::read_bytes(f.dir.file("m.sqz")) != test::read_bytes(f.dir.file("p.sqz")));
  // The labelled-retraining switches parse too (a value-less option is not an empty value),
  // and without --train they are refused as the options they are, not as empty values.
  auto switches = test::run_cli({"compress", f.onnx, "--bits", "4", "--no-mirror",
                                 "--quantize-at-once", "-o", f.dir.file("s.sqz")});
  INFO(switches.err);
  CHECK(switches.exit_code == 2);
  CHECK(switches.err.find("needs --train images") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(f.dir.file("s.sqz")));
  // A text option given empty is still refused.
  auto empty = test::run_cli({"compress", f.onnx, "--bits", "4", "--calib", "", "-o",
                              f.dir.file("e.sqz")});
  CHECK(empty.exit_code == 2);
  CHECK(empty.err.find("--calib wants a value") != std::string::npos);
}

TEST_CASE("compress: --half-floats writes binary16 biases and codebooks, counted by the target") {
  Fixture f;
  auto plain = compress(f, f.dir.file("f32.sqz"),
                        {"--bits", "4", "--calib-steps", "0", "--float32-biases"});
  auto half =
      compress(f, f.dir.file("f16.sqz"), {"--bits", "4", "--calib-steps", "0", "--half-floats"});
  REQUIRE(plain.exit_code == 0);
  REQUIRE(half.exit_code == 0);
  auto a = format::read_sqz(f.dir.file("f32.sqz")), b = format::read_sqz(f.dir.file("f16.sqz"));
  REQUIRE(a.is_ok());
  REQUIRE(b.is_ok());
  int64_t biases = 0, books = 0;
  for (const Layer& l : a->model.layers) biases += l.bias.numel(), books += l.quant.codebook.size();
  // Two bytes fewer per bias and centroid, nothing else changes size.
  CHECK(a->file_bytes - b->file_bytes == static_cast<uint64_t>(2 * (biases + books)));
  for (const auto& row : b->ledger)
    if (row.part == "bias" || row.part == "codebook") CHECK(row.coding == "f16");
  // With a target, the allocation measures each width's sections as binary16 and fits.
  const int64_t target = static_cast<int64_t>(b->file_bytes) + 600;
  auto t = compress(f, f.dir.file("t16.sqz"),
                    {"--target-bytes", std::to_string(target), "--probe-images", "4",
                     "--calib-steps", "0", "--half-floats"});
  INFO(t.err);
  REQUIRE(t.exit_code == 0);
  auto tf = format::read_sqz(f.dir.file("t16.sqz"));
  REQUIRE(tf.is_ok());
  CHECK(static_cast<int64_t>(tf->file_bytes) <= target);
  for (const auto& row : tf->ledger)
    if (row.part == "bias") CHECK(row.coding == "f16");
  for (const auto& row : a->ledger)
    if (row.part == "bias" || row.part == "codebook") CHECK(row.coding == "f32");
  // 8-bit biases, the default (--int8-biases names it): one byte per bias instead of two,
  // plus a 4-byte scale per layer.
  auto i8 = compress(f, f.dir.file("i8.sqz"), {"--bits", "4", "--calib-steps", "0"});
  auto named =
      compress(f, f.dir.file("n8.sqz"), {"--bits", "4", "--calib-steps", "0", "--int8-biases"});
  REQUIRE(i8.exit_code == 0);
  REQUIRE(named.exit_code == 0);
  CHECK(test::read_bytes(f.dir.file("i8.sqz")) == test::read_bytes(f.dir.file("n8.sqz")));
  for (const char* other : {"--half-floats", "--float32-biases"}) {
    auto both = compress(f, f.dir.file("x.sqz"), {"--int8-biases", other});
    CHECK(both.exit_code == 2);
    CHECK(both.err.find("one choice") != std::string::npos);
  }
  auto c = format::read_sqz(f.dir.file("i8.sqz"));
  REQUIRE(c.is_ok());
  int64_t layers = 0;
  for (const Layer& l : a->model.layers) layers += l.bias.numel() > 0;
  CHECK(static_cast<int64_t>(b->file_bytes - c->file_bytes) == biases - 4 * layers);
  for (const auto& row : c->ledger) {
    if (row.part == "bias") CHECK(row.coding == "i8");
    if (row.part == "codebook") CHECK(row.coding == "f16");
  }
}
