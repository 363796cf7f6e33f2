// A second, minimal .sqz reader written only from format/SPEC.md (no code shared with
// format/): it proves the spec suffices. Slow and simple on purpose.
#pragma once

#include <string>
#include <vector>

namespace sqz::spec {

struct ConvWeights {
  std::string name;
  std::vector<float> weight;  // dense OIHW
  std::vector<float> bias;
};

// Returns the convolution layers' weights in graph order, or throws std::runtime_error.
std::vector<ConvWeights> read(const std::string& bytes);

}  // namespace sqz::spec
