// The model representation: a graph of named layers joined by named blobs, covering the
// SqueezeNet family (Iandola et al. 2016): convolution, ReLU, pooling, concat, dropout,
// softmax, flatten, and the element-wise sum of the bypass variants (Sec. 6). Every importer
// produces it (folding BatchNorm into the convolution before it); every stage reads and
// writes it.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "sqz/core/status.h"
#include "sqz/core/tensor.h"

namespace sqz {

// Limits that every importer, the .sqz reader and writer, and every stage enforce before they
// allocate (format/SPEC.md, "Limits"): far above any real SqueezeNet (about 70 layers, 1.2M
// activations per image at 227x227, 0.5M weights in its largest layer), low enough that a
// small hostile file cannot make the tools allocate gigabytes.
inline constexpr int64_t kMaxLayers = 10000;
inline constexpr int64_t kMaxLayerInputs = 64;
inline constexpr int64_t kMaxActivationElements = int64_t{1} << 26;  // per blob and image
inline constexpr int64_t kMaxConvWeights = int64_t{1} << 26;         // per convolution
inline constexpr size_t kMaxNameBytes = 4096;                          // layer and blob names

// X-macro list of operators: the single source for names, on-disk ids and support tables.
// Ids are stable: append only, never reuse a retired one.
#define SQZ_OP_LIST(X)              \
  X(kConvolution, 1, "Convolution") \
  X(kRelu, 2, "ReLU")               \
  X(kMaxPool, 3, "MaxPool")         \
  X(kAvgPool, 4, "AvgPool")         \
  X(kConcat, 5, "Concat")           \
  X(kDropout, 6, "Dropout")         \
  X(kSoftmax, 7, "Softmax")         \
  X(kFlatten, 8, "Flatten")         \
  X(kAdd, 9, "Add")

enum class OpKind : int {
#define SQZ_OP_ENUM(name, id, text) name = id,
  SQZ_OP_LIST(SQZ_OP_ENUM)
#undef SQZ_OP_ENUM
};

const char* op_name(OpKind op);
// Maps a stable on-disk id back to an operator; false when the id is unknown.
bool op_from_id(int id, OpKind* op);

struct ConvParams {
  int64_t out_channels = 0;
  int64_t kernel_h = 1, kernel_w = 1;
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_h = 0, pad_w = 0;  // symmetric zero padding
  int64_t groups = 1;
  bool has_bias = true;
  // Asymmetric padding (ONNX pads, auto_pad SAME_*): the bottom pad is pad_h + extra_pad_h,
  // the right pad pad_w + extra_pad_w; 0 for symmetric padding, never below -pad.
  int64_t extra_pad_h = 0, extra_pad_w = 0;
};

enum class PoolRounding { kCeil = 0, kFloor = 1 };

struct PoolParams {
  int64_t kernel_h = 1, kernel_w = 1;
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_h = 0, pad_w = 0;
  bool global = false;
  // Caffe rounds the output size up (and drops a last window that starts in the padding);
  // ONNX and PyTorch use the same rule when ceil_mode=1.
  PoolRounding rounding = PoolRounding::kCeil;
  // Average pooling divisor: Caffe counts padded positions inside [−pad, H+pad) (true);
  // ONNX's count_include_pad=0 counts only real input positions (false).
  bool average_counts_padding = true;
  // Asymmetric padding, as in ConvParams (e.g. PyTorch's ceil-mode pooling exported at
  // opset 9 as extra end padding).
  int64_t extra_pad_h = 0, extra_pad_w = 0;
};

// Deep Compression's per-layer weight sharing (Han et al. 2016, Sec. 3): each stored
// (non-zero) weight is codebook[codes[k]], k counting stored positions in row-major order.
struct Quantization {
  int bits = 0;                 // index width, 1..8; 0: not quantized (float32 weights)
  std::vector<float> codebook;  // at most 2^bits centroids, ascending, none exactly 0
  std::vector<uint8_t> codes;   // one per stored position

  bool active() const { return bits > 0; }
};

struct Layer {
  std::string name;
  OpKind op = OpKind::kRelu;
  std::vector<std::string> inputs;  // blob names; Concat and Add have several, the rest one
  std::string output;               // blob name, produced by this layer only
  ConvParams conv;                  // kConvolution
  PoolParams pool;                  // kMaxPool, kAvgPool
  int64_t axis = 1;  // kConcat, kFlatten: 1; kSoftmax: any axis of its input (< 0: from the end)
  Tensor weight;                    // kConvolution: OIHW [out, in/groups, kh, kw]
  Tensor bias;                      // kConvolution with has_bias: [out]
  // Pruning mask (Han et al. 2015): empty, or weight.numel() flags, 1 = kept, 0 = pruned.
  // Every stage preserves it; a pruned position always holds exactly 0.
  std::vector<uint8_t> mask;
  // When active, weight holds the decoded values codebook[codes[k]], or nothing: a layer with
  // its codes only (a .sqz read for the runtime, without a dense float32 copy) has
  // weight.shape but empty weight.data; expand_codes writes the values out.
  Quantization quant;

  // Number of stored positions: mask ones, or all weights without a mask.
  int64_t stored_count() const;
  // Quantized, with its codes only (no float32 weights).
  bool codes_only() const { return quant.active() && weight.data.empty(); }
};

// Writes out a codes-only layer's float32 weights (codebook[codes[k]] at stored positions, 0
// elsewhere); nothing for any other layer.
void expand_codes(Layer& layer);

// Builders for programs that assemble networks (samples, tests): a layer reading `input` and
// writing a blob named like the layer; a convolution with zero weights and biases of the right
// shapes (square kernel, equal stride and padding on both axes, one group).
Layer make_layer(OpKind op, const std::string& name, const std::string& input);
Layer make_conv(const std::string& name, const std::string& input, int64_t in_channels,
                int64_t out_channels, int64_t kernel, int64_t stride, int64_t pad);

// Enforces a layer's mask after its weights changed (e.g. by retraining): pruned positions
// are set back to exactly 0, and with an active codebook each centroid becomes the mean of
// the weights assigned to it (assignments fixed) and the weights are re-tied to it.
// Returns how many pruned positions held a non-zero value.
int64_t enforce_mask(Layer& layer);

// Puts an active codebook in canonical order (strictly ascending, equal centroids merged) and
// remaps the codes; the weights do not change. Fine-tuned centroids may have crossed.
void canonicalize_codebook(Layer& layer);

struct Model {
  std::string name;
  std::string input;          // the input blob's name
  Shape input_shape;          // NCHW; N is the default batch
  std::string output;         // the blob the network's result is read from
  std::vector<Layer> layers;  // in an order where every input is produced before use

  const Layer* find_layer(const std::string& layer_name) const;
  Layer* find_layer(const std::string& layer_name);
  int64_t weight_count() const;          // all convolution weights
  int64_t nonzero_weight_count() const;  // their non-zeros
  int64_t bias_count() const;
};

// kInvalidArgument naming the first codes-only layer: the stages that change weights (pruning,
// weight sharing, training) need the float32 values; the runtime and the writers do not.
Status check_float_weights(const Model& model);

// Checks the graph and infers every blob's shape for the given batch size: unknown blobs,
// blobs produced twice, cycles, channel mismatches, bad kernel/stride/pad, weight shapes.
// Layers are reordered topologically when needed. batch > 0 overrides the input's N.
// check_weights = false skips the weight/bias checks (for a graph whose weights are not
// loaded yet). Returns blob name -> shape.
Result<std::map<std::string, Shape>> validate_and_infer(Model& model, int64_t batch = 0,
                                                        bool check_weights = true);

// The output shape of one layer given its inputs' shapes, by the rules of validate_and_infer
// (negative axes count from the end of the first input's shape). For importers that need
// shapes while they build a graph in topological order.
Result<Shape> infer_layer_shape(const Layer& layer, const std::vector<Shape>& inputs,
                                bool check_weights = true);

// Output size of a pooling window along one axis (Caffe rule, see PoolParams::rounding);
// `extra` is the end pad beyond `pad`.
int64_t pooled_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad, PoolRounding rounding,
                    int64_t extra = 0);

}  // namespace sqz
