// The composed pipeline's other ends: compress with pruning, an interrupted compress, and
// report (stage table, ledger, accuracy, HTML), on a generated model and generated labelled
// images.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "cli_pipeline_fixture.h"
#include "sqz/format/sqz_file.h"

using namespace sqz;
using json = nlohmann::json;
using test::compress;
using test::Fixture;

TEST_CASE("compress: pruning with retraining, and the output is never overwritten") {
  Fixture f(1.0);
  auto r = compress(f, f.dir.file("p.sqz"), {"--density", "0.4", "--retrain-steps", "3"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto file = format::read_sqz(f.dir.file("p.sqz"));
  REQUIRE(file.is_ok());
  const double density = static_cast<double>(file->model.nonzero_weight_count()) /
                         static_cast<double>(file->model.weight_count());
  CHECK(density == doctest::Approx(0.4).epsilon(0.02));
  // --granularity kernel: k x k layers lose whole kernels, stored as gaps between kernels.
  auto k = compress(f, f.dir.file("k.sqz"),
                    {"--density", "0.4", "--retrain-steps", "3", "--granularity", "kernel"});
  INFO(k.err);
  REQUIRE(k.exit_code == 0);
  auto kf = format::read_sqz(f.dir.file("k.sqz"));
  REQUIRE(kf.is_ok());
  int kernel_layers = 0;
  for (const auto& row : kf->ledger)
    kernel_layers += row.part == "positions" && row.coding.rfind("gaps-kernels", 0) == 0;
  CHECK(kernel_layers >= 2);
  CHECK(
      compress(f, f.dir.file("g.sqz"), {"--density", "0.4", "--granularity", "block"}).exit_code ==
      2);
  const std::string before = test::read_bytes(f.dir.file("p.sqz"));
  auto again = compress(f, f.dir.file("p.sqz"), {"--bits", "3"});
  CHECK(again.exit_code == 1);
  CHECK(again.err.find("--force") != std::string::npos);
  CHECK(test::read_bytes(f.dir.file("p.sqz")) == before);
}

TEST_CASE("compress: Ctrl-C during calibration leaves no output and no temporary file") {
  Fixture f;
  const std::string out = f.dir.file("i.sqz");
  // A shell starts background jobs with SIGINT ignored; env restores the default, as a
  // terminal's foreground job has it when Ctrl-C is pressed.
  const std::string cmd = "env --default-signal=INT '" SQZ_CLI_PATH "' compress '" + f.onnx +
                          "' --calib '" + f.images + "' --calib-steps 100000 -o '" + out +
                          "' >/dev/null 2>&1 & pid=$!; sleep 1.5; kill -INT $pid; wait $pid; "
                          "echo $?";
  CHECK(std::atoi(test::shell_first_line(cmd).c_str()) == 130);  // died of SIGINT
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(f.dir.path()))
    files += e.path().filename().string().find("i.sqz") != std::string::npos;
  CHECK(files == 0);
}

TEST_CASE("report: the ledger sums to the file, accuracy matches eval, HTML has three charts") {
  Fixture f;
  const std::string sqz = f.dir.file("r.sqz");
  REQUIRE(compress(f, sqz, {"--bits", "5"}).exit_code == 0);
  auto r = test::run_cli({"report", sqz, "--reference", f.onnx, "--images", f.images, "--json",
                          "--html", f.dir.file("r.html"), "--chart", f.dir.file("acc.svg")});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const json j = json::parse(r.out);
  const auto file_bytes = std::filesystem::file_size(sqz);
  CHECK(j["ledger_total"] == file_bytes);
  CHECK(j["stages"].back()["bytes"] == file_bytes);
  // Per layer, the same bytes as info's ledger.
  auto info = test::run_cli({"info", sqz, "--json"});
  REQUIRE(info.exit_code == 0);
  const json ledger = json::parse(info.out);
  std::map<std::string, int64_t> info_bytes;
  for (const auto& row : ledger["rows"])
    if (!row["layer"].get<std::string>().empty())
      info_bytes[row["layer"]] += row["bytes"].get<int64_t>();
  REQUIRE(info_bytes.size() == j["layers"].size());
  for (const auto& l : j["layers"]) CHECK(info_bytes[l["layer"]] == l["total"].get<int64_t>());
  // Accuracy on the held-out half only, equal to eval on those files.
  const auto& point = j["points"][0];
  CHECK(point["images"] == 6);
  CHECK(point["excluded_calibration_images"] == 6);
  std::filesystem::create_directory(f.dir.file("held"));
  std::vector<std::filesystem::path> sorted;
  for (const auto& e : std::filesystem::directory_iterator(f.images)) sorted.push_back(e.path());
  std::sort(sorted.begin(), sorted.end());
  for (size_t i = 1; i < sorted.size(); i += 2)  // fold 2 of 2: not calibrated on
    std::filesystem::copy_file(sorted[i], f.dir.file("held/" + sorted[i].filename().string()));
  auto eval = test::run_cli({"eval", sqz, "--images", f.dir.file("held"), "--labels",
                             f.dir.file("synsets.txt"), "--json"});
  INFO(eval.err);
  REQUIRE(eval.exit_code == 0);
  const json e = json::parse(eval.out);
  CHECK(e["top1"].get<double>() == doctest::Approx(point["top1"].get<double>()).epsilon(1e-3));
  CHECK(e["top5"].get<double>() == doctest::Approx(point["top5"].get<double>()).epsilon(1e-3));
  const std::string html = test::read_bytes(f.dir.file("r.html"));
  for (const char* id : {"<figure id=\"waterfall\">\n<svg", "<figure id=\"layers\">\n<svg",
                         "<figure id=\"accuracy\">\n<svg"})
    CHECK(html.find(id) != std::string::npos);
  CHECK(html.find("<script") == std::string::npos);  // self-contained, nothing to run
  CHECK(test::read_bytes(f.dir.file("acc.svg")).find("<svg") != std::string::npos);
  // Markdown by default; an existing HTML file is kept without --force.
  auto md = test::run_cli({"report", sqz, "--html", f.dir.file("r.html")});
  CHECK(md.exit_code == 1);
  auto plain = test::run_cli({"report", sqz});
  CHECK(plain.exit_code == 0);
  CHECK(plain.out.find("## Per-layer ledger") != std::string::npos);
  CHECK(plain.out.find("**" + std::to_string(file_bytes) + "**") != std::string::npos);
  CHECK(test::run_cli({"report", f.onnx}).exit_code == 1);  // not a .sqz
  CHECK(test::run_cli({"report", sqz, "--reference", f.onnx}).exit_code == 2);
  // Options that would be ignored are refused, naming themselves.
  for (std::vector<std::string> ignored :
       {std::vector<std::string>{"--prototxt", "x.prototxt", "--prototxt"},
        {"--labels", "l.txt", "--labels"}, {"--limit", "3", "--limit"},
        {"--label-file", "l.tsv", "--label-file"}, {"--mean", "1", "the preprocessing"},
        {"--tune-cache", "t.txt", "--tune-cache"}}) {
    std::vector<std::string> args{"report", sqz, ignored[0], ignored[1]};
    const auto r = test::run_cli(args);
    CHECK(r.exit_code == 2);
    CHECK(r.err.find(ignored[2]) != std::string::npos);
    CHECK(r.out.empty());
  }
}
