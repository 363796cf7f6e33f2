// The pipeline as a library: compresses a model to a .sqz with k-means weight sharing at a
// fixed width, calibrated on a folder of unlabeled images, printing each stage.
// usage: compress_model MODEL CALIB_DIR BITS OUT.sqz
#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "sqz/pipeline/compress.h"

namespace {

struct PrintStages : sqz::pipeline::Observer {
  void stage(int index, int count, const std::string& what) override {
    std::fprintf(stderr, "[%d/%d] %s\n", index, count, what.c_str());
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: compress_model MODEL CALIB_DIR BITS OUT.sqz\n");
    return 2;
  }
  sqz::pipeline::CompressOptions o;
  o.model_path = argv[1];
  o.calib_dir = argv[2];
  o.quantize.bits = std::atoi(argv[3]);
  o.output_name = argv[4];
  o.calibration.steps = 20;
  PrintStages stages;
  auto result = sqz::pipeline::compress(o, &stages);
  if (!result.is_ok()) {
    std::fprintf(stderr, "compress_model: %s\n", result.status().message().c_str());
    return 1;
  }
  std::ofstream(argv[4], std::ios::binary) << result->bytes;
  std::printf("%s: %zu bytes\n", argv[4], result->bytes.size());
  return 0;
}
