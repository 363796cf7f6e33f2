#include "sqz/runtime/arena_plan.h"

#include <algorithm>

namespace sqz::runtime {

std::vector<int64_t> plan_arena(const std::vector<BufferLife>& lives, int64_t* total) {
  auto padded = [](int64_t floats) { return (floats + 15) / 16 * 16; };
  std::vector<size_t> order(lives.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return lives[a].floats != lives[b].floats ? lives[a].floats > lives[b].floats
                                              : lives[a].first < lives[b].first;
  });
  std::vector<int64_t> offset(lives.size(), 0);
  std::vector<size_t> placed;  // by offset
  *total = 0;
  for (size_t i : order) {
    const BufferLife& me = lives[i];
    int64_t at = 0;
    for (size_t j : placed) {
      if (lives[j].last < me.first || me.last < lives[j].first) continue;  // never live together
      if (offset[j] - at >= padded(me.floats)) break;
      at = std::max(at, offset[j] + padded(lives[j].floats));
    }
    offset[i] = at;
    *total = std::max(*total, at + padded(me.floats));
    placed.insert(std::upper_bound(placed.begin(), placed.end(), at,
                                   [&](int64_t x, size_t j) { return x < offset[j]; }),
                  i);
  }
  return offset;
}

}  // namespace sqz::runtime
