// One-dimensional k-means on weighted points: the clustering behind Deep Compression's
// weight sharing (Han et al. 2016, Sec. 3.1).
#pragma once

#include <cstdint>
#include <vector>

namespace sqz::quantize {

// Distinct values in ascending order, each with a positive weight (its count, or a summed
// importance). Built by make_points.
struct WeightedPoints {
  std::vector<double> x;
  std::vector<double> w;
};

// Sorts and merges equal values. importance: null (every value weighs 1) or one positive
// weight per value.
WeightedPoints make_points(const std::vector<float>& values, const std::vector<float>* importance);

enum class Init {
  kLinear,          // evenly spaced over [min, max]: the paper's best (Sec. 3.2)
  kDensity,         // evenly spaced over the weighted CDF
  kRandom,          // Forgy: k distinct points drawn at random
  kKmeansPlusPlus,  // D^2 sampling (Arthur & Vassilvitskii 2007)
};

struct Clustering {
  std::vector<double> centroids;  // ascending; clusters left empty are dropped
  double sse = 0;                 // weighted sum of squared errors
  int iterations = 0;
};

// Initial centroids (ascending, k of them or fewer when there are fewer points).
// Deterministic for a given seed.
std::vector<double> init_centroids(const WeightedPoints& p, int k, Init init, uint64_t seed);

// Lloyd's iterations from the given start, until no centroid moves or max_iterations.
// sse_trace, when given, receives the SSE after each assignment step (non-increasing).
Clustering lloyd(const WeightedPoints& p, std::vector<double> centroids, int max_iterations,
                 std::vector<double>* sse_trace = nullptr);

// The optimal k-clustering (minimum weighted SSE) by dynamic programming over sorted data,
// O(k n log n) with the divide-and-conquer rule for monotone split points (Wang & Song,
// Ckmeans.1d.dp, R Journal 2011; Grønlund et al., 2017). Uses k*n*4 bytes of memory.
Clustering exact_kmeans(const WeightedPoints& p, int k);

// Weighted SSE of the points against nearest-centroid assignment.
double assignment_sse(const WeightedPoints& p, const std::vector<double>& centroids);

}  // namespace sqz::quantize
