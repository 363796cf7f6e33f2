// Helpers for tests: small generated models and files, temp folders, running the CLI.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "sqz/core/graph.h"

namespace sqz::test {

// A SqueezeNet-shaped model with random weights: conv(7x7/2) -> ReLU -> maxpool(3/2, ceil)
// -> Fire(squeeze 1x1, expand 1x1 + 3x3, concat) -> dropout -> conv 1x1 (classes) -> ReLU
// -> global average pool. Density < 1 zeroes that fraction of weights at random.
Model tiny_squeezenet(uint32_t seed, int64_t in_size = 19, int64_t classes = 10,
                      double density = 1.0);

// One 1x1 convolution (in_channels -> out_channels on size x size planes) with every weight
// `weight` and zero biases, its output the model's: sums whose size a test controls.
Model uniform_1x1(int64_t in_channels, int64_t out_channels, int64_t size, float weight);

// tiny_squeezenet with the complex bypass (SqueezeNet Sec. 6): a 1x1 convolution of the Fire
// module's input (random weights from seed) added to its output.
Model with_bypass(Model m, uint32_t seed);

// max |got - want| / max |want| (the denominator at least 1e-6): differential-test error.
double max_rel_diff(const std::vector<float>& got, const std::vector<float>& want);

// Uniform random floats in [lo, hi).
std::vector<float> random_floats(std::mt19937& rng, size_t n, float lo = -1.0f, float hi = 1.0f);

// A fresh empty folder under the system temp dir, removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

void write_bytes(const std::string& path, const std::string& bytes);
std::string read_bytes(const std::string& path);

struct CliResult {
  int exit_code;
  std::string out, err;
};
// Runs the built squeeze-compress with the given arguments (shell-quoted here).
CliResult run_cli(const std::vector<std::string>& args);

// Runs a shell command line and returns the first line of its stdout ("" when none).
std::string shell_first_line(const std::string& command);

// Writes a model in the Deep Compression release layout (see format/src/net_import.cc).
// REQUIRES: every conv layer has at most 255 distinct non-zero values and a bias.
std::string encode_release_net(const Model& model);

// Writes a w x h RGB PNG of a smooth pattern set by seed.
void write_png(const std::string& path, int w, int h, uint32_t seed);
// Writes dir/synsets.txt (classes n001..n003) and dir/images/ with n labelled PNGs named
// '<wnid>_<10 + i>.png' (class i % 3), of sizes around 40x36.
void write_labelled_pngs(const std::string& dir, int n);

// A w x h RGB JPEG (libjpeg) of a smooth pattern set by seed, baseline or progressive.
std::string jpeg_bytes(int w, int h, uint32_t seed, bool progressive);

// Writes w x h pixels (channels 1: grey, 3: RGB, interleaved) as a PNG.
void write_png_pixels(const std::string& path, int w, int h, int channels, const uint8_t* pixels);

// Path of ../shared, or "" when it is absent (env SQZ_SHARED overrides).
std::string shared_dir();

}  // namespace sqz::test
