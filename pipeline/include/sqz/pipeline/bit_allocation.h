// Per-layer widths towards a target file size: each convolution is quantized alone at
// every candidate width (a codebook size: 2^bits, or half a bit between two, see
// codebook_sizes), its cost measured as the mean KL divergence of the network's outputs
// from the uncompressed ones on a few probe images and its size as its .sqz LAYER section
// (a measured rate-distortion curve per layer); then the widths with the smallest summed cost
// within the byte budget are found exactly, by dynamic programming over bytes (a
// multiple-choice knapsack; cf. the rate-distortion allocation of Choi et al. 2017, HAWQ-V3's
// integer program, Yao et al. 2021).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "sqz/core/graph.h"
#include "sqz/core/status.h"
#include "sqz/format/sqz_file.h"
#include "sqz/pipeline/weight_sharing.h"

namespace sqz::pipeline {

// Widths in this file are codebook sizes (centroids), ascending with the bits they cost.
struct LayerCosts {
  std::string layer;
  // The widths the layer may take (a pinned layer: its own only), each with
  std::map<int, int64_t> bytes;  // centroids -> bytes of the layer's section
  std::map<int, double> kl;      // centroids -> mean KL divergence, nats (made monotone)
};

struct BitTable {
  std::vector<LayerCosts> layers;
  int64_t fixed_bytes = 0;  // header, directory, graph, metadata, trailer
};

// The candidate codebook sizes for widths in bits (ascending, 1..8): 2^b for each, and with
// half_steps also round(2^(b + 1/2)) between two consecutive ones (23, 45, 91, 181 between
// 4..8). Huffman-coded codes cost about log2 of the codebook's size a weight, so a half step
// costs about half a bit a weight. At whole bits a layer whose best share of the budget lies
// between two widths takes one of them and the others make up the difference; since the
// error falls about 4x a bit (6 dB, high-resolution quantization theory) and not linearly,
// that costs up to a quarter more error than the width between, in theory (on SqueezeNet v1.0
// the half steps measured better at 400,000 bytes and worse at 370,000: docs/tutorial.md,
// "Half widths").
std::vector<int> codebook_sizes(const std::vector<int>& widths, bool half_steps);

// Measures every layer at every width in `sizes` (codebook sizes, ascending). probe: n images
// (NCHW); teacher: their n x classes outputs from `model`. Layers pinned in
// sharing.quantize.layer_bits keep their width (one entry; a layer kept float, its float
// section at cost 0). Each trial shares weights as `sharing` says
// (data-aware codes when it has input moments). Sizes are of files written with `encoding`
// (its float codings and metadata). progress(done, total) after each measurement.
Result<BitTable> measure_bit_costs(const Model& model, const SharingOptions& sharing,
                                   const format::SqzEncodeOptions& encoding,
                                   const std::vector<int>& sizes, const float* probe, int64_t n,
                                   const std::vector<float>& teacher, int threads,
                                   const std::function<void(int, int)>& progress);

// Widths (codebook sizes) per layer with the smallest summed cost whose total size is at most
// target_bytes: exact up to bytes rounded up to a unit of at most 1/100000 of the widest total
// (so the sizes are never under-counted). More bytes never give a larger cost.
// kInvalidArgument when even the narrowest widths do not fit.
Result<std::map<std::string, int>> allocate_widths(const BitTable& table, int64_t target_bytes);

// One try of a fit to a target size: the budget asked of the table and the file's size it gave.
struct FitTry {
  int64_t budget = 0, size = 0;
};

// The budget for the next try: from the last one towards `aim` along the secant of the last
// two (budget bytes per file byte, clamped to [0.5, 2] against noise), as a secant
// root-finder does; 1 after one try, and where the last two sizes did not move with their
// budgets (equal, or the size rose as the budget fell: noise, which says nothing of the slope).
// The sizes are not a linear function of the budget (the sharing spends bytes the table did
// not foresee, more where layers are wider), so a step by the bytes missed alone crawls.
int64_t next_fit_budget(const std::vector<FitTry>& tries, int64_t aim);

// Total bytes of a choice of widths.
int64_t allocated_bytes(const BitTable& table, const std::map<std::string, int>& centroids);

}  // namespace sqz::pipeline
