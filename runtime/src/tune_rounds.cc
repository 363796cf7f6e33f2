#include "tune_rounds.h"

#include <algorithm>
#include <limits>

namespace sqz::runtime {

std::vector<double> fastest_of_rounds(int count, const RoundLimits& limits,
                                      const std::function<double(int)>& run) {
  std::vector<double> best(static_cast<size_t>(std::max(count, 0)),
                           std::numeric_limits<double>::infinity());
  double spent = 0;
  for (int round = 0; round < limits.max_rounds; ++round) {
    if (round >= limits.min_rounds && spent > limits.seconds_per_candidate * count) break;
    for (int c = 0; c < count; ++c) {
      const double t = run(c);
      spent += t;
      best[static_cast<size_t>(c)] = std::min(best[static_cast<size_t>(c)], t);
    }
  }
  return best;
}

}  // namespace sqz::runtime
