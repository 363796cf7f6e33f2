// Weight sharing (Deep Compression, Han et al. 2016, Sec. 3): each layer's non-zero weights
// become indices into a small per-layer codebook. Zeros (pruned positions) never move.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "sqz/core/graph.h"
#include "sqz/core/status.h"
#include "sqz/quantize/kmeans1d.h"

namespace sqz {
namespace quantize {}
namespace quant = quantize;  // the 0.1 name, kept for embedders
}  // namespace sqz

namespace sqz::quantize {

enum class Method {
  kKmeans,   // k-means over the non-zero weights (the paper's choice)
  kUniform,  // uniform grid, step chosen for an entropy target, cells' means as centroids:
             // entropy-constrained scalar quantization (Choi et al., ICLR 2017, Sec. 5)
};

struct QuantizeOptions {
  int bits = 8;                           // 1..8, for every layer without an override
  std::map<std::string, int> layer_bits;  // per layer name; 0 keeps that layer float32
  // Per layer name: the codebook's size when it is not 2^bits (2..2^bits of the layer's
  // width): steps of size between whole bits, e.g. 91 centroids in 7-bit codes ("6.5 bits",
  // Huffman-coded near log2 91), so that a width allocation is not held to doublings.
  std::map<std::string, int> layer_centroids;
  Method method = Method::kKmeans;
  Init init = Init::kLinear;
  bool exact = false;        // exact 1-D k-means instead of Lloyd
  int max_iterations = 100;  // Lloyd
  uint64_t seed = 1;
  double entropy_target = 0;  // kUniform: bits per weight (0: 0.75 * bits)
  // Optional data-aware weighting of each weight's squared error (e.g. the mean squared input
  // activation of its input channel: a diagonal-Hessian proxy, Choi et al. 2017), by layer
  // name, one value per weight (OIHW order). Layers not listed weigh every weight 1.
  const std::map<std::string, std::vector<float>>* importance = nullptr;
};

struct LayerMetrics {
  std::string name;
  int bits = 0;  // 0: left float32
  int centroids_used = 0;
  int64_t nonzeros = 0;
  double rmse = 0;     // over the non-zeros
  double sqnr_db = 0;  // 10 log10(sum w^2 / sum err^2); +inf when exact
  double max_abs_error = 0;
  double entropy_bits = 0;  // Shannon entropy of the indices, bits per non-zero weight
};

// Checks every setting against the model before touching it: bits in 1..8 (0 allowed in an
// override), overrides naming existing convolution layers, no quantized layer without
// non-zeros. Errors name the layer.
Status check_options(const Model& model, const QuantizeOptions& options);

// The options a front end was given, by name (`init`, `exact`, `method`, `entropy`, `seed`),
// checked against the others: kInvalidArgument naming one that would be ignored (`entropy`
// without `method` uniform; `init` with `exact` or the uniform grid; `seed` where no random
// start is drawn).
Status check_option_dependencies(const QuantizeOptions& options,
                                 const std::vector<std::string>& given);

// Quantizes every convolution layer in place (after check_options). Sets each layer's mask to
// its non-zero pattern, its codebook and codes, and its weights to the shared values.
Result<std::vector<LayerMetrics>> quantize_model(Model& model, const QuantizeOptions& options);

// One layer with the given bit width (1..8): 2^bits centroids, or the layer's
// options.layer_centroids.
Result<LayerMetrics> quantize_layer(Layer& layer, int bits, const QuantizeOptions& options);

// The codebook size quantize_layer gives `layer` at `bits`.
int centroids_for(const QuantizeOptions& options, const std::string& layer, int bits);

// The code bits a codebook of `centroids` entries needs: ceil(log2 centroids), at least 1.
int code_bits_for(int64_t centroids);

// Sets `layer`'s width as a codebook size (2..256): codes of ceil(log2 centroids) bits, and
// layer_centroids unless the size is a power of two.
void set_layer_width(QuantizeOptions& options, const std::string& layer, int centroids);

// The codebook size half a bit below `bits` (2..8): round(2^(bits - 1/2)), e.g. 91 for 7.
int half_step_centroids(int bits);

// Metrics of a quantized layer against its float weights before quantization.
LayerMetrics measure(const Layer& quantized, const std::vector<float>& original);

// The fine-tuning contract (paper Eq. 3): with assignments fixed, the gradient of each
// centroid is the sum of the gradients of the weights that share it. weight_grad: one value
// per weight (OIHW). Returns one gradient per codebook entry.
std::vector<float> centroid_gradients(const Layer& layer, const std::vector<float>& weight_grad);

// Lossless weight sharing for a layer whose non-zero weights already take at most 256
// distinct values (e.g. the Deep Compression release): codebook = those values, ascending,
// bits = ceil(log2(count)). Weights are unchanged. kInvalidArgument when there are more.
Status adopt_existing_values(Layer& layer);

// Writes codebook[codes[k]] back into the layer's stored positions (after centroids moved).
void apply_codebook(Layer& layer);

}  // namespace sqz::quantize
