// The runtime: plans a Model once (a kernel per convolution chosen from its density and
// coding, weights packed in that kernel's layout, ReLU fused, concat without copies), then
// runs batches of NCHW inputs. Pruned and weight-shared layers run from their compressed
// form (CSR positions + uint8 codebook indices); the Model's dense weights are not kept.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "sqz/core/graph.h"
#include "sqz/core/status.h"

namespace sqz {
namespace runtime {}
namespace rt = runtime;  // the 0.1 name, kept for embedders
}  // namespace sqz

namespace sqz::runtime {

enum class KernelPolicy {
  kAuto,       // sparse SpMM at or below `sparse_max_density`, dense GEMM above: a rule,
               // not a timed trial, so that a model always runs the same kernels and gives
               // the same bits on every run and thread count
  kDense,      // dense GEMM for every convolution (from codes when quantized)
  kSparse,     // sparse SpMM for every convolution
  kReference,  // the naive twins on dense float32 weights (for differential tests)
};

// The activation memory a network may plan, by default: 256 MiB (SqueezeNet v1.0 at 227x227
// needs 4 MiB at batch 1 with conv1's pooling fused, 6 MiB without; the need grows with the
// batch and the image's area). set_default_activation_budget changes it for every NetOptions
// made afterwards (the CLI's `max_memory`).
int64_t default_activation_budget();
void set_default_activation_budget(int64_t bytes);

// The defaults NetOptions takes (the CLI's `tune` and `tune_cache` set them once).
struct TuningDefaults {
  bool tune = false;
  std::string cache;
};
TuningDefaults default_tuning();
void set_default_tuning(const TuningDefaults& defaults);
// $XDG_CACHE_HOME/squeeze-compress/tune-v1.txt, else ~/.cache/squeeze-compress/tune-v1.txt
// when $HOME is a folder, else "" (no cache: every tuned create() times again).
std::string default_tune_cache_path();
// Whether `path` can serve as a tuning cache: an existing file must be one (a regular,
// readable file, empty or starting with the cache's header line; read-only is fine, it is then
// only read); for a new one, the nearest existing ancestor must be a writable directory.
// kInvalidArgument naming the path and the problem. Net::create itself never fails on the
// cache (an unusable one is left alone and reported in PlanStats::note); clients that take
// the path from a user check it first.
Status check_tune_cache(const std::string& path);

struct NetOptions {
  int threads = 1;
  KernelPolicy policy = KernelPolicy::kAuto;
  // kAuto: the densest layer the SpMM takes. Below where it overtakes the GEMM on every CPU
  // modelled or measured (bench/crossover_model.py: 0.66-0.69 on Skylake-SP to Sapphire
  // Rapids, 0.69-0.89 for AVX2 on Skylake, ~1 on Zen 3; 0.75-0.9 measured on Zen 4).
  // create() fails (kInvalidArgument) outside [0, 1].
  double sparse_max_density = 0.65;
  // create() and forward() fail (kLimit) when a batch's activations would need more.
  int64_t max_activation_bytes = default_activation_budget();
  // Plan-time tuning, as FFTW's wisdom and XNNPACK's and oneDNN's do it: each convolution's
  // candidates are timed on its real shape at this thread count, and the fastest kept. The
  // candidates: the kernel (with kAuto, SpMM or GEMM: a different summation order, so
  // outputs differ within float rounding) and how the threads share the layer (a shared
  // im2col, per-thread column blocks of three sizes, or, for a size-keeping convolution on the
  // SpMM, the op building its im2col panel by panel in L1, as the rule has it: the same bits).
  // Choices are kept in tune_cache (one line per machine, thread count and layer) and read back
  // on the next create() instead of timing. Off: the rule, the same on every run.
  bool tune = default_tuning().tune;
  std::string tune_cache = default_tuning().cache;  // "" = default_tune_cache_path()
  // For tests and benchmarks: every convolution split one way, "shared", "blocks:FLOATS"
  // (per-thread column blocks of FLOATS im2col floats) or "panels" (a size-keeping SpMM building
  // its im2col panel by panel; other ops as blocks), instead of the rule or tuning.
  // create() fails (kInvalidArgument) on anything else.
  std::string force_schedule;
  // A max pooling that reads only a convolution's output (a stem's: SqueezeNet v1.0's conv1 ->
  // pool1 on the direct convolution, v1.1's on the GEMM or SpMM; not a 1x1's) runs inside it:
  // each thread pools bands of the convolution's rows while they are in its cache, and the
  // whole convolution output is never stored. The same bits either way; off for tests and
  // benchmarks that compare.
  bool fuse_pooling = true;
  // An element-wise sum of two tensors (a bypass) runs inside the convolutions that write one
  // of them when nothing else reads it: each adds the other to its outputs while they are in
  // its cache, and the sum takes no pass of its own. The same bits either way; off for tests
  // and benchmarks that compare.
  bool fuse_add = true;
  // A batch runs in passes of this many images, each through the whole network, so that a
  // pass's activations stay in the threads' L2 caches instead of streaming through L3 or
  // memory at every layer (eight 227x227 SqueezeNet v1.0 images need ~30 MiB: per image,
  // batch 8 ran 1.2-1.5x slower than batch 1 on an Intel Xeon whose L3 reads ~8 GB/s a core).
  // 0: as many images as the threads' L2 holds (kernels::l2_per_thread times the threads, over
  // the activations one image needs), at least 1. An image's outputs are the same bits at any
  // pass size. create() fails (kInvalidArgument) when negative.
  int64_t images_per_pass = 0;
  // A batch of at least two images on two or more threads runs as image streams, as OpenVINO's
  // throughput streams: each thread takes its own run of images through the whole network on
  // its own copy of the activations (the ops shared), with no synchronisation between layers
  // and no layer reading what another core wrote. The same bits as one pass after another (any
  // split of a layer computes the same sums). Off: every layer of a pass split over all the
  // threads, as for one image. Not with a conv input hook, which sees every pass; profile()
  // adds the streams' mean time to each layer's.
  bool image_streams = true;
};

// What planning cost and found: its time, convolutions timed and read from the cache.
struct PlanStats {
  double seconds = 0;
  int timed = 0, cached = 0;
  std::string cache_path;  // "" when no cache was used
  std::string note;        // a cache that could not be read or written, ...
};

struct LayerProfile {
  std::string name;
  std::string kernel;    // e.g. "spmm_64_f32_avx512 (codes)", "alias" for fused/view layers
  std::string plan;      // convolutions: "rule", "tuned ..." (how it was chosen), "cache: ..."
  double density = 1;    // convolutions: stored fraction of weights
  double flops = 0;      // dense-equivalent multiply-adds x 2, per image
  double nnz_flops = 0;  // the same over stored weights only
  double seconds = 0;    // accumulated over forward() calls while profiling
};

class Net {
 public:
  // Validates the model and prepares it. The model may be destroyed afterwards. Fails
  // (kInvalidArgument) when SQZ_ISA names no ISA path (kernels::Machine::isa_unknown).
  static Result<std::unique_ptr<Net>> create(const Model& model, const NetOptions& options);
  ~Net();

  // Per-image input shape (C, H, W) and output element count.
  Shape input_chw() const;
  int64_t output_size() const;

  // Plans the activations for `batch` images, at most images_per_pass() at a time (as
  // forward would), without running: kLimit when they exceed options.max_activation_bytes. Callers
  // check a batch before they allocate its inputs.
  Status reserve(int64_t batch);

  // How many images one pass of forward() runs (NetOptions::images_per_pass, or the count
  // derived from the caches).
  int64_t images_per_pass() const;
  // The threads forward() runs on (NetOptions::threads).
  int threads() const;

  // input: batch x C x H x W floats, run images_per_pass() images at a time. Resizes *output
  // to batch x output_size(). kLimit when a pass's activations exceed
  // options.max_activation_bytes, and when an output is NaN
  // or infinite (check_finite_outputs; *output then holds the outputs, for callers that name
  // the image otherwise). kInvalidArgument for inputs that are not finite
  // (check_finite_inputs).
  Status forward(const float* input, int64_t batch, std::vector<float>* output);

  // Bytes the convolutions keep: packed weights or codes, indices, codebooks, biases.
  int64_t weight_bytes() const;

  // Called before each convolution runs, once per image of the batch, with the layer's name
  // and its input (C x H x W floats, valid during the call): how calibration statistics of
  // every layer's input are gathered in one pass. An empty function removes the hook.
  using ConvInputHook = std::function<void(const std::string& layer, const float* chw)>;
  void set_conv_input_hook(ConvInputHook hook);

  const PlanStats& plan_stats() const;

  void set_profiling(bool on);
  std::vector<LayerProfile> profile() const;

 private:
  struct Impl;
  explicit Net(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// kInvalidArgument naming the first NaN or infinity of `images` inputs of per_image floats
// (Net::forward refuses them: ReLU and max pooling keep the other operand of a NaN, so the
// scores would look like an answer).
Status check_finite_inputs(const float* input, int64_t images, int64_t per_image);

// kLimit naming the first NaN or infinity of `images` outputs of per_image floats, counting
// images from first_image (< 0: the image is not named, for callers that name it). With the
// graph's operators and finite inputs, only a sum past float32's range makes one: there is no
// answer to give (Net::forward refuses them, counting from 0).
Status check_finite_outputs(const float* output, int64_t images, int64_t per_image,
                            int64_t first_image = 0);

}  // namespace sqz::runtime
