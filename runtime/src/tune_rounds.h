// How plan-time tuning times its candidates (internal to the runtime; net_tune.cc).
#pragma once

#include <functional>
#include <vector>

namespace sqz::runtime {

struct RoundLimits {
  int min_rounds = 3, max_rounds = 10;
  double seconds_per_candidate = 0.004;  // past min_rounds, stop once the runs took this much
};

// Times `count` candidates in rounds, each round running every candidate once in turn, and
// returns each one's fastest run. run(c) runs candidate c once and returns its seconds. A slow
// spell of the machine (another tenant on the host, a core parked or throttled for some
// milliseconds) then falls on every candidate's runs alike: timed one after the other, it
// fell on whichever candidate was being timed then, which lost for it and was not kept (or
// won in a quiet spell against candidates timed in a slow one). The order benchmark tools
// use against the same noise (asv samples "A B C ... A' B' C'"; Google Benchmark's random
// interleaving, docs/random_interleaving.md: 40% less run-to-run variance). Stops after
// max_rounds, or after min_rounds once the runs together took seconds_per_candidate x count.
std::vector<double> fastest_of_rounds(int count, const RoundLimits& limits,
                                      const std::function<double(int)>& run);

}  // namespace sqz::runtime
