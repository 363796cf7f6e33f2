// Time to quantize all convolution layers of a model, single thread: Lloyd and exact 1-D
// k-means. usage: bench_quantize [MODEL] [--prototxt P] [--bits B]
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "sqz/import/importers.h"
#include "sqz/quantize/quantize.h"

int main(int argc, char** argv) {
  const std::string dir = "../shared/models/squeezenet_v1.0_deep_compression/";
  std::string model_path = dir + "compressed_SqueezeNet.net",
              prototxt = dir + "SqueezeNet_deploy.prototxt";
  int bits = 6;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--bits" && i + 1 < argc)
      bits = std::atoi(argv[++i]);
    else if (a == "--prototxt" && i + 1 < argc)
      prototxt = argv[++i];
    else
      model_path = a;
  }
  auto model = sqz::import::load_model(model_path, prototxt);
  if (!model.is_ok()) {
    std::fprintf(stderr, "bench_quantize: %s\n", model.status().message().c_str());
    return 1;
  }
  std::printf("model %s, %d bits, %lld non-zero weights\n", model_path.c_str(), bits,
              (long long)model->nonzero_weight_count());
  for (bool exact : {false, true}) {
    for (int repeat = 0; repeat < 2; ++repeat) {  // the second run is the one reported
      sqz::Model m = *model;
      sqz::quantize::QuantizeOptions o;
      o.bits = bits;
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
