// Where a net's activations live in its one arena (Net's memory plan; public for its tests).
#pragma once

#include <cstdint>
#include <vector>

namespace sqz::runtime {

// A buffer written first by step `first` and read last by step `last` (inclusive), `floats`
// long.
struct BufferLife {
  int64_t first, last, floats;
};

// Offsets (in floats, multiples of 16: 64-byte aligned) in one arena such that buffers whose
// lifetimes overlap never overlap in memory; *total is the arena's length. Largest buffers
// first, each at the lowest gap among those already placed that are live with it (TensorFlow
// Lite's "greedy by size" arena planner, Pisarchyk and Lee, "Efficient Memory Management for
// Deep Neural Net Inference", 2020, Sec. 4.2): large buffers packed low keep the arena small,
// so later layers write into memory that earlier layers touched, still in cache, instead of
// fetching lines for the write. O(n^2) in the buffers (10,000 layers at most).
std::vector<int64_t> plan_arena(const std::vector<BufferLife>& lives, int64_t* total);

}  // namespace sqz::runtime
