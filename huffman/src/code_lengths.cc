#include <algorithm>
#include <cmath>
#include <numeric>

#include "sqz/huffman/huffman.h"

namespace sqz::huffman {
namespace {

// Package-merge nodes: a leaf (symbol >= 0) or a package of two earlier nodes.
struct Node {
  uint64_t weight;
  int32_t symbol;  // -1 for a package
  int32_t left, right;
};

void count_leaves(const std::vector<Node>& pool, int32_t node, std::vector<uint8_t>& lengths) {
  std::vector<int32_t> stack{node};
  while (!stack.empty()) {
    const Node& n = pool[static_cast<size_t>(stack.back())];
    stack.pop_back();
    if (n.symbol >= 0) {
      ++lengths[static_cast<size_t>(n.symbol)];
    } else {
      stack.push_back(n.left);
      stack.push_back(n.right);
    }
  }
}

}  // namespace

std::vector<uint8_t> code_lengths(const std::vector<uint64_t>& histogram, int max_length) {
  std::vector<uint8_t> lengths(histogram.size(), 0);
  std::vector<int32_t> used;
  for (size_t s = 0; s < histogram.size(); ++s)
    if (histogram[s]) used.push_back(static_cast<int32_t>(s));
  if (used.empty()) return lengths;
  if (used.size() == 1) {
    lengths[static_cast<size_t>(used[0])] = 1;
    return lengths;
  }
  std::sort(used.begin(), used.end(), [&](int32_t a, int32_t b) {
    return histogram[a] < histogram[b] || (histogram[a] == histogram[b] && a < b);
  });
  std::vector<Node> pool;
  std::vector<int32_t> leaves;
  for (int32_t s : used) {
    leaves.push_back(static_cast<int32_t>(pool.size()));
    pool.push_back({histogram[static_cast<size_t>(s)], s, -1, -1});
  }
  // The coin collector's problem: L-1 rounds of packaging and merging with the leaves.
  std::vector<int32_t> list = leaves;
  for (int level = 1; level < max_length; ++level) {
    std::vector<int32_t> packages;
    for (size_t i = 0; i + 1 < list.size(); i += 2) {
      packages.push_back(static_cast<int32_t>(pool.size()));
      pool.push_back({pool[list[i]].weight + pool[list[i + 1]].weight, -1, list[i], list[i + 1]});
    }
    std::vector<int32_t> merged;
    merged.reserve(leaves.size() + packages.size());
    std::merge(leaves.begin(), leaves.end(), packages.begin(), packages.end(),
               std::back_inserter(merged), [&](int32_t a, int32_t b) {
                 return pool[static_cast<size_t>(a)].weight < pool[static_cast<size_t>(b)].weight;
               });
    list = std::move(merged);
  }
  const size_t take = 2 * used.size() - 2;
  for (size_t i = 0; i < take && i < list.size(); ++i) count_leaves(pool, list[i], lengths);
  return lengths;
}

std::vector<uint32_t> canonical_codes(const std::vector<uint8_t>& lengths) {
  uint32_t count[kMaxCodeLength + 2] = {0}, next[kMaxCodeLength + 2] = {0};
  for (uint8_t l : lengths) ++count[l];
  count[0] = 0;
  uint32_t code = 0;
  for (int len = 1; len <= kMaxCodeLength + 1; ++len) {
    code = (code + count[len - 1]) << 1;
    next[len] = code;
  }
  std::vector<uint32_t> codes(lengths.size(), 0);
  for (size_t s = 0; s < lengths.size(); ++s)
    if (lengths[s]) codes[s] = next[lengths[s]]++;
  return codes;
}

uint64_t payload_bits(const std::vector<uint64_t>& histogram, const std::vector<uint8_t>& lengths) {
  uint64_t bits = 0;
  for (size_t s = 0; s < histogram.size(); ++s) bits += histogram[s] * lengths[s];
  return bits;
}

double entropy_bits(const std::vector<uint64_t>& histogram) {
  const double total =
      static_cast<double>(std::accumulate(histogram.begin(), histogram.end(), uint64_t{0}));
  double h = 0;
  for (uint64_t c : histogram)
    if (c) h -= c * std::log2(c / total);
  return h;
}

}  // namespace sqz::huffman
