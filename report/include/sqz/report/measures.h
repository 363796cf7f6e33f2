// What the pipeline measures and the report library renders: accuracy on a set of images, and
// the pruning-sensitivity sweep. Plain data.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sqz::report {

struct Accuracy {
  int64_t images = 0, labelled = 0;
  double top1 = 0, top5 = 0;  // over labelled images, fractions
  double agreement = -1;      // top-1 agreement with a reference, fraction (-1: none)
  double mean_kl = -1;        // mean KL(reference softmax || model softmax), nats
  std::vector<int8_t> hits;   // per image: -1 unlabelled, else 1 (top-1 right) | 2 (top-5)
};

// One layer pruned alone to one density (Han et al. 2015, Sec. 4 / Fig. 6).
struct SensitivityPoint {
  std::string layer;
  double density;
  int64_t kept, weights;
  Accuracy acc;  // agreement and KL against the unpruned model
};

struct Sensitivity {
  Accuracy baseline;  // the unpruned model
  std::vector<SensitivityPoint> points;  // layers in model order, densities in given order
};

}  // namespace sqz::report
