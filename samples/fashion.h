// The embedded default: a SqueezeNet-style network (Iandola et al. 2016: conv stem, Fire
// modules with a 1x1 squeeze and concatenated 1x1 + 3x3 expands, late downsampling, a 1x1
// classifier and global average pooling, no fully connected layer) for 28x28 grey images,
// and Fashion-MNIST loading shared by the training and compression programs.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "sqz/core/graph.h"
#include "sqz/core/status.h"

namespace sqz::sample {

// The untrained network, He-initialised from seed.
Model fashion_squeezenet(uint64_t seed);

// Images as normalised NCHW floats ((p/255 - mean) / std) and their labels.
struct Split {
  int64_t count = 0;
  std::vector<float> x;  // count x 1 x 28 x 28
  std::vector<int> y;
};

// Loads "train" or "t10k" from Debian's dataset-fashion-mnist (errors name the package).
Result<Split> load_split(const std::string& dir, const std::string& split);

// Copies the images `order[begin..end)` into a batch, mirroring each with probability 1/2
// when augment is set; mirrored (if given) receives 1 for each mirrored image.
void make_batch(const Split& s, const std::vector<int64_t>& order, int64_t begin, int64_t end,
                bool augment, std::mt19937_64& rng, std::vector<float>* x, std::vector<int>* y,
                std::vector<uint8_t>* mirrored = nullptr);

// Fraction of correct top-1 predictions for logits [count x 10].
double accuracy(const std::vector<float>& logits, const std::vector<int>& y);

// The two programs' option parsing: a number for `flag` in [lo, hi] (an integer when T is),
// the whole of `text`; else a one-line error naming `program` and the flag, and false.
template <typename T>
bool parse_number(const char* program, const std::string& flag, const std::string& text,
                  double lo, double hi, T* out) {
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  const bool integral = std::is_integral_v<T>;
  const bool whole = !integral || v == static_cast<double>(static_cast<int64_t>(v));
  if (text.empty() || *end != '\0' || !(v >= lo && v <= hi) || !whole) {
    std::fprintf(stderr, "%s: %s must be %s in %g..%g, not '%s'\n", program, flag.c_str(),
                 integral ? "an integer" : "a number", lo, hi, text.c_str());
    return false;
  }
  *out = static_cast<T>(v);
  return true;
}

}  // namespace sqz::sample
