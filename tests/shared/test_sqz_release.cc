// Lossless re-encode of the Deep Compression release into .sqz.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>

#include "spec_reader.h"
#include "sqz/import/importers.h"
#include "sqz/format/sqz_file.h"
#include "sqz/quantize/quantize.h"
#include "sqz/runtime/net.h"
#include "test_util.h"

using namespace sqz;

TEST_CASE("the release re-encodes losslessly to <= 550,000 bytes and runs") {
  const std::string dir = test::shared_dir() + "/models/squeezenet_v1.0_deep_compression/";
  auto net = import::import_deep_compression_net(dir + "SqueezeNet_deploy.prototxt",
                                                 dir + "compressed_SqueezeNet.net");
  REQUIRE(net.is_ok());
  Model m = *net;
  for (Layer& l : m.layers)
    if (l.op == OpKind::kConvolution) REQUIRE(quantize::adopt_existing_values(l).is_ok());
  std::string bytes;
  auto written = format::encode_sqz(m, {}, &bytes);
  REQUIRE(written.is_ok());
  MESSAGE("release .sqz: " << bytes.size() << " bytes (the .net is 675,763)");
  CHECK(bytes.size() <= 550000);
  auto back = format::decode_sqz(bytes);
  REQUIRE(back.is_ok());
  const auto independent = spec::read(bytes);
  REQUIRE(independent.size() == 26);
  size_t k = 0;
  for (size_t i = 0; i < net->layers.size(); ++i) {
    const Layer &a = net->layers[i], &b = back->model.layers[i];
    if (a.op != OpKind::kConvolution) continue;
    INFO("layer " << a.name);
    CHECK(std::memcmp(a.weight.data.data(), b.weight.data.data(), 4 * a.weight.numel()) == 0);
    CHECK(std::memcmp(a.bias.data.data(), b.bias.data.data(), 4 * a.bias.numel()) == 0);
    CHECK(independent[k].weight == a.weight.data);
    CHECK(independent[k].bias == a.bias.data);
    ++k;
  }
  // The runtime on the decoded .sqz reproduces the golden logits.
  const std::string inputs = test::read_bytes(test::shared_dir() + "/reference/golden_inputs.f32");
  const std::string golden = test::read_bytes(test::shared_dir() + "/reference/golden_logits.f32");
  const auto* ref = reinterpret_cast<const float*>(golden.data());
  // Every kernel policy on the compressed model, 1, 2 and 3 threads: the golden logits, and the
  // same bits on every thread count and batch size.
  for (auto policy :
       {runtime::KernelPolicy::kAuto, runtime::KernelPolicy::kSparse, runtime::KernelPolicy::kDense}) {
    std::vector<float> first;
    for (int threads : {1, 2, 3}) {
      runtime::NetOptions opts;
      opts.policy = policy;
      opts.threads = threads;
      auto net = runtime::Net::create(back->model, opts);
      REQUIRE(net.is_ok());
      CHECK((*net)->weight_bytes() <= 1500000);  // resident weights near the file size
      std::vector<float> out, one;
      REQUIRE((*net)->forward(reinterpret_cast<const float*>(inputs.data()), 8, &out).is_ok());
      if (first.empty()) first = out;
      CHECK(out == first);
      REQUIRE((*net)->forward(reinterpret_cast<const float*>(inputs.data()) + 3 * 227 * 227, 1,
                              &one).is_ok());
      CHECK(std::equal(one.begin(), one.end(), first.begin() + 1000));
      for (int b = 0; b < 8; ++b) {
        double err = 0, peak = 0;
        for (int c = 0; c < 1000; ++c) {
          err = std::max(err, std::fabs(double{out[b * 1000 + c]} - ref[b * 1000 + c]));
          peak = std::max(peak, std::fabs(double{ref[b * 1000 + c]}));
        }
        INFO("policy " << static_cast<int>(policy) << " threads " << threads << " image " << b);
        CHECK(err <= 1e-4 * peak);
      }
    }
  }
}

TEST_CASE("report on the release .sqz: the ledger to the byte, the accuracy of eval") {
  const std::string dir = test::shared_dir() + "/models/squeezenet_v1.0_deep_compression/";
  const std::string images = test::shared_dir() + "/images/calib";
  test::TempDir tmp;
  const std::string sqz = tmp.file("release.sqz");
  REQUIRE(test::run_cli({"encode", dir + "compressed_SqueezeNet.net", "--prototxt",
                         dir + "SqueezeNet_deploy.prototxt", "-o", sqz})
              .exit_code == 0);
  auto report = test::run_cli({"report", sqz, "--reference", dir + "squeezenet_v1.0_dc.onnx",
                               "--images", images, "--limit", "24", "--threads", "2", "--json"});
  INFO(report.err);
  REQUIRE(report.exit_code == 0);
  const auto r = nlohmann::json::parse(report.out);
  auto info = test::run_cli({"info", sqz, "--json"});
  REQUIRE(info.exit_code == 0);
  const auto ledger = nlohmann::json::parse(info.out);
  CHECK(r["ledger_total"] == ledger["file_bytes"]);
  CHECK(r["bytes"] == ledger["file_bytes"]);
  std::map<std::string, int64_t> per_layer;
  for (const auto& row : ledger["rows"])
    if (!row["layer"].get<std::string>().empty())
      per_layer[row["layer"]] += row["bytes"].get<int64_t>();
  REQUIRE(per_layer.size() == 26);
  for (const auto& l : r["layers"]) CHECK(per_layer[l["layer"]] == l["total"].get<int64_t>());
  auto eval =
      test::run_cli({"eval", sqz, "--images", images, "--limit", "24", "--threads", "2", "--json"});
  REQUIRE(eval.exit_code == 0);
  const auto e = nlohmann::json::parse(eval.out);
  const auto& point = r["points"][0];
  CHECK(point["images"] == 24);
  CHECK(e["top1"].get<double>() == doctest::Approx(point["top1"].get<double>()).epsilon(1e-3));
  CHECK(e["top5"].get<double>() == doctest::Approx(point["top5"].get<double>()).epsilon(1e-3));
  // The .sqz row of the stage table is the file; the release is lossless, so it agrees with
  // the reference (the same weights) on every image.
  CHECK(r["stages"][3]["bytes"] == ledger["file_bytes"]);
  CHECK(point["agreement"].get<double>() == 1.0);
}
