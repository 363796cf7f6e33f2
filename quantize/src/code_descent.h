// Coordinate descent on one row's codes after the error-compensating sweep (gptq.cc).
#pragma once

#include <cstdint>
#include <vector>

namespace sqz::quantize::detail {

// The sweep assigns each position once, in one order, greedily; this then lets every stored
// position in turn take the centroid that lowers the row's cost e^T H e + lambda x bits the
// most, until a pass changes nothing or after `passes` (the discrete form of AdaRound's
// layer objective, Nagel et al., ICML 2020, Sec. 3: a local minimum under single changes).
// Moving position i by d changes e^T H e by -2 d (H e)_i + d^2 H_ii, so the best centroid
// is the one nearest the parabola's vertex (and, with a price on bits, those either side).
// h: k x k (row-major, symmetric); book ascending; stored, e (target - current) and code
// (-1 where pruned): k entries in the layer's OIHW order; bits: per centroid (empty when
// lambda == 0). Returns the number of changes.
int64_t descend_row(const double* h, int64_t k, const std::vector<float>& book,
                    const uint8_t* stored, const std::vector<double>& bits, double lambda,
                    int passes, std::vector<double>* e, std::vector<int>* code);

// One pass of moves of two positions at once, each to a centroid next to its own. At a local
// minimum under single changes a pair can still lower the cost where two inputs correlate:
// moving i by d_i and j by d_j changes e^T H e by a_i + a_j + 2 d_i d_j H_ij (a: each move's
// own change, plus its price in bits), which is below zero when H_ij is large and of the sign
// that lets one error offset the other, as between neighbouring taps of a 3x3 kernel (a
// 2-opt move on the discrete problem whose single-change form descend_row solves). Each
// stored position in turn takes, with a later position, the pair that lowers the cost the
// most, if any; O(k^2) per pass. Arguments as descend_row's; returns the pairs moved.
int64_t descend_row_pairs(const double* h, int64_t k, const std::vector<float>& book,
                          const uint8_t* stored, const std::vector<double>& bits, double lambda,
                          std::vector<double>* e, std::vector<int>* code);

}  // namespace sqz::quantize::detail
