// Time to quantize all convolution layers of a model, single thread: Lloyd and exact 1-D
// k-means. usage: bench_quantize [MODEL] [--prototxt P] [--bits B]
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "bench_args.h"
#include "sqz/import/importers.h"
#include "sqz/quantize/quantize.h"

int main(int argc, char** argv) {
  const std::string dir = "../shared/models/squeezenet_v1.0_deep_compression/";
  const std::string release = dir + "compressed_SqueezeNet.net";
  std::string model_path = release, prototxt;
  int64_t bits = 6;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      std::printf("usage: bench_quantize [MODEL] [--prototxt P] [--bits B]   (B: 1 to 8)\n");
      return 0;
    }
    if (a == "--bits" && i + 1 < argc) {
      if (!sqz::bench::parse_int(argv[++i], 1, 8, &bits))
        return sqz::bench::bad_option("bench_quantize", "--bits", "1 to 8", argv[i]);
    } else if (a == "--prototxt" && i + 1 < argc) {
      prototxt = argv[++i];
    } else if (!a.empty() && a[0] == '-') {
      std::fprintf(stderr, "bench_quantize: unknown or incomplete option '%s'\n", a.c_str());
      return 2;
    } else {
      model_path = a;
    }
  }
  if (model_path == release && prototxt.empty()) prototxt = dir + "SqueezeNet_deploy.prototxt";
  auto model = sqz::import::load_model(model_path, prototxt);
  if (!model.is_ok()) {
    std::fprintf(stderr, "bench_quantize: %s\n", model.status().message().c_str());
    return 1;
  }
  std::printf("model %s, %lld bits, %lld non-zero weights\n", model_path.c_str(), (long long)bits,
              (long long)model->nonzero_weight_count());
  for (bool exact : {false, true}) {
    for (int repeat = 0; repeat < 2; ++repeat) {  // the second run is the one reported
      sqz::Model m = *model;
      sqz::quantize::QuantizeOptions o;
      o.bits = static_cast<int>(bits);
      o.exact = exact;
      const auto t0 = std::chrono::steady_clock::now();
      auto metrics = sqz::quantize::quantize_model(m, o);
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (!metrics.is_ok()) {
        std::fprintf(stderr, "bench_quantize: %s\n", metrics.status().message().c_str());
        return 1;
      }
      double noise = 0, signal = 0;
      for (const auto& lm : *metrics) noise += lm.rmse * lm.rmse * lm.nonzeros;
      for (const auto& l : model->layers)
        for (float w : l.weight.data) signal += double{w} * w;
      if (repeat == 1)
        std::printf("%-6s k-means: %.4f s  (total SQNR %.2f dB)\n", exact ? "exact" : "Lloyd", s,
                    10 * std::log10(signal / noise));
    }
  }
  return 0;
}
