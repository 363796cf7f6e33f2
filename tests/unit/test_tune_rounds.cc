// Tuning's timing (runtime/src/tune_rounds.h): candidates timed in rounds, so that a slow
// spell of the machine does not decide which candidate wins.
#include <doctest/doctest.h>

#include <vector>

#include "tune_rounds.h"

using sqz::runtime::fastest_of_rounds;
using sqz::runtime::RoundLimits;

namespace {

// A machine with a slow spell: the calls from `from` to `to` (in call order) take three times
// as long. Candidate c takes base[c] seconds otherwise.
struct SlowSpell {
  std::vector<double> base;
  int from, to;
  std::vector<int> order;  // candidates in the order they were run
  double run(int c) {
    const int call = static_cast<int>(order.size());
    order.push_back(c);
    return base[static_cast<size_t>(c)] * (call >= from && call < to ? 3.0 : 1.0);
  }
};

}  // namespace

TEST_CASE("tuning times candidates in rounds: a slow spell does not pick the winner") {
  // Candidate 0 is the faster. Timed one after the other (10 runs each), a spell over the
  // first 10 calls would have hit all of candidate 0's runs: 3.0 against 1.1.
  SlowSpell m{{1.0, 1.1}, 0, 10, {}};
  const std::vector<double> t =
      fastest_of_rounds(2, RoundLimits{3, 10, 100.0}, [&](int c) { return m.run(c); });
  REQUIRE(t.size() == 2);
  CHECK(t[0] == 1.0);
  CHECK(t[1] == doctest::Approx(1.1));
  CHECK(t[0] < t[1]);
  // Every round ran each candidate once, in turn.
  REQUIRE(m.order.size() == 20);
  for (size_t k = 0; k < m.order.size(); ++k) CHECK(m.order[k] == static_cast<int>(k % 2));
}

TEST_CASE("tuning's rounds stop at the budget, never before the minimum nor past the maximum") {
  SlowSpell m{{0.002, 0.003, 0.001}, 0, 0, {}};
  auto rounds = [&](const RoundLimits& limits) {
    m.order.clear();
    const std::vector<double> t =
        fastest_of_rounds(3, limits, [&](int c) { return m.run(c); });
    CHECK(t == std::vector<double>{0.002, 0.003, 0.001});
    return static_cast<int>(m.order.size()) / 3;
  };
  // Each round takes 6 ms: past 3 x 4 ms after 2 rounds, so the minimum of 3 decides.
  CHECK(rounds(RoundLimits{3, 10, 0.004}) == 3);
  // Past 3 x 11 ms after 6 rounds, then stop.
  CHECK(rounds(RoundLimits{3, 10, 0.011}) == 6);
  CHECK(rounds(RoundLimits{3, 4, 1.0}) == 4);
  CHECK(rounds(RoundLimits{1, 10, 0.0}) == 1);
  CHECK(fastest_of_rounds(0, RoundLimits{}, [](int) { return 1.0; }).empty());
}
