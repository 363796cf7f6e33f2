// The runtime's state (net.h's Net::Impl), shared by net.cc (planning, memory, the API),
// net_conv.cc (convolution execution) and net_layers.cc (the other layers). Internal.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "sqz/kernels/aligned.h"
#include "sqz/kernels/conv_op.h"
#include "sqz/kernels/conv_shape.h"
#include "sqz/kernels/im2col.h"
#include "sqz/runtime/net.h"
#include "sqz/runtime/thread_pool.h"

namespace sqz::runtime {

// The kernels the runtime's files call by name.
using kernels::AlignedFloats;
using kernels::ConvOp;
using kernels::ConvShape;
using kernels::ConvWeights;
using kernels::Isa;
using kernels::Machine;
using kernels::machine;

// A convolution's stored weights: its mask's ones, its codes, or (a float32 layer without a
// mask) its non-zero weights.
inline int64_t stored_weights(const Layer& l) {
  return l.mask.empty() && !l.codes_only() ? l.weight.count_nonzero() : l.stored_count();
}

// Where a blob lives: inside its parent's storage at a channel offset (views, concat slices).
struct Placement {
  std::string parent;  // empty: the blob owns its storage
  int64_t channel_offset = 0;
};

// A (non-global) pooling layer's geometry on one image.
inline kernels::PoolShape pool_shape(const Layer& l, const Shape& in, const Shape& out) {
  return {in[1],           in[2],           in[3],           out[2],
          out[3],          l.pool.kernel_h, l.pool.kernel_w, l.pool.stride_h,
          l.pool.stride_w, l.pool.pad_h,    l.pool.pad_w,    l.pool.average_counts_padding,
          l.pool.extra_pad_h, l.pool.extra_pad_w};
}

inline int64_t per_image(const Shape& s) { return shape_numel(s) / s[0]; }
inline int64_t spatial(const Shape& s) { return s.size() == 4 ? s[2] * s[3] : 1; }

// How the threads share a convolution. Every choice gives the same bits: each output column
// is computed by the same kernel over the same K order, only where its B rows come from and
// which thread computes it change.
struct ConvSchedule {
  enum class Split {
    kRule,    // kPanels where the op can, else per-thread column blocks when the layer has
              // kPanelsPerThread panels a thread
    kShared,  // one im2col shared by all threads, which split rows and columns
    kBlocks,  // per-thread column blocks, each thread building its block's im2col
    kPanels,  // threads take whole panels, the op building each one's im2col itself, in L1
              // (ConvOp::builds_b_from_image; an op that cannot runs as kBlocks)
  };
  Split split = Split::kRule;
  int64_t block_floats = 0;  // kBlocks and kRule: im2col floats a block holds (0: from L2)
};

// Which kernel runs a convolution: the SpMM or the GEMM, its ISA, and the SpMM's K chunk and
// row form. These change the summation order (the outputs differ in the last bits).
struct KernelChoice {
  bool sparse = false;
  std::optional<Isa> isa;   // none: the widest machine().isa allows
  int64_t chunk_bytes = 0;  // sparse: B panel bytes per K chunk (0: the thread's L1d share)
  bool one_row = false;     // sparse: one output row at a time, not the kernel's pairs
  int64_t k_block = 0;      // dense: B rows per K block (0: all of K; the same bits for any)
  bool direct = false;      // dense: the direct convolution, no im2col (the GEMM's bits)
};

// Whether the rule runs a dense layer by the direct convolution: a stem, whose few input
// channels im2col copies once per tap: a large window (25 taps or more; SqueezeNet v1.0's
// conv1: 3 channels, 7x7, 49 copies), or 27 taps or more over all its channels (a 3x3 over 3
// or 4) on a plane at least two 16-column direct tiles wide (v1.1's conv1: 111 columns).
// bench_conv on the Zen 4, im2col and the GEMM against the direct op: 7x7/2 from 3 channels
// 18-28% slower, 5x5/2 14-26%, 3x3/2 at 224x224 10-20% (v1.1's conv1 with its pooling, bench
// -v: 0.59 against 0.53 ms, AVX2 0.64-0.72 against 0.57), 3x3 at 32x32 or 96x96 about even;
// but a 1-channel 3x3 at 28x28 15% faster, and 3-4x at 3x3/2 with 13 output columns (a
// narrow plane wastes a tile's columns, and its im2col is small; docs/performance-log.md,
// session 37).
inline bool direct_by_rule(const ConvShape& s) {
  if (s.groups != 1 || s.in_c > 4) return false;
  return s.kh * s.kw >= 25 || (s.in_c * s.kh * s.kw >= 27 && s.out_w >= 32);
}
// Whether tuning (NetOptions::tune) times the direct convolution for a dense layer: any stem.
inline bool direct_candidate(const ConvShape& s) {
  return s.groups == 1 && s.in_c <= 8 && s.kh * s.kw > 1;
}

// The kernels a choice names: its ISA's, or the widest allowed; null when the CPU or SQZ_ISA
// does not allow that ISA.
inline const kernels::SpmmKernel* spmm_kernel_of(const KernelChoice& c) {
  return c.isa ? kernels::spmm_kernel_for(*c.isa) : &kernels::best_spmm_kernel();
}
inline const kernels::GemmKernel* gemm_kernel_of(const KernelChoice& c) {
  return c.isa ? kernels::gemm_kernel_for(*c.isa) : &kernels::best_gemm_kernel();
}

struct ConvPlan {
  ConvShape shape;      // the layer's own geometry
  ConvShape run_shape;  // what the op computes (pad-only 1x1: without the padding)
  bool pad_only = false;
  bool relu = false;
  std::vector<float> border;   // pad-only: per output channel, the border value
  std::shared_ptr<ConvOp> op;  // null: reference kernels; shared by the image streams
  ConvSchedule schedule;
  // The max pooling this (direct) convolution runs inside, writing the pooling's output
  // (NetOptions::fuse_pooling); none: it writes its own output.
  std::optional<kernels::PoolShape> then_pool;
  size_t pool_layer = 0;  // with then_pool: the pooling layer (skipped)
  // Before the kernels are chosen: the pooling that will run inside this convolution if its
  // op allows (pool_fuses_into), so that tuning times each candidate as it will run.
  std::optional<kernels::PoolShape> fusable_pool;
  bool timed_with_pool = false;  // tuning timed a candidate with fusable_pool inside
  // The blob this convolution's outputs are summed with as they are computed (an element-wise
  // sum run inside the convolutions that write one of its operands: NetOptions::fuse_add);
  // empty: none. residual_shift: floats from an image of it to this output's first channel.
  std::string residual;
  int64_t residual_shift = 0;
};

// Whether a max pooling can run inside p's convolution with this op: a direct op, or one over
// im2col of one group that is not a 1x1 (whose B is its input read in place: bands would copy
// it); not a pad-only 1x1.
inline bool pool_fuses_into(const ConvPlan& p, const ConvOp& op) {
  const ConvShape& s = p.run_shape;
  return !p.pad_only && (op.arranged_floats() > 0 ||
                         (s.groups == 1 && !kernels::conv_reads_input_directly(s)));
}

// A tuning candidate for one convolution: a kernel and how the threads share the layer.
struct TuneCandidate {
  KernelChoice choice;
  ConvSchedule schedule;
};
struct TuneBest;  // net_tune_candidates.cc

// Tuning choices by key (machine, threads, layer), read from and written back to a file.
class TuneCache {
 public:
  std::string path;
  std::map<std::string, std::string> entries;
  bool dirty = false;
  bool read_only = false;  // the file exists but is not ours, or could not be read
  std::string note;
  double spent_seconds = 0;  // timing spent in this create()
};
std::unique_ptr<TuneCache> open_tune_cache(const NetOptions& options);
// "shared" or "blocks:FLOATS" (NetOptions::force_schedule).
Result<ConvSchedule> parse_schedule(const std::string& text);
// Writes new entries back (atomically); fills stats' cache path and note.
void close_tune_cache(const TuneCache& cache, PlanStats* stats);

// Images whose activations (arena_bytes each) fit in the L2 of `threads` threads
// (kernels::l2_per_thread each), at least 1.
int64_t images_in_l2(int64_t arena_bytes, int threads, const kernels::Machine& m);

struct Net::Impl {
  Model model;
  NetOptions options;
  std::map<std::string, Shape> shapes;  // batch 1
  std::map<std::string, Placement> placement;
  std::vector<bool> skip;
  std::vector<bool> fused_relu;
  std::map<std::string, std::vector<bool>> concat_needs_copy;
  std::vector<ConvPlan> convs;  // per layer
  std::vector<LayerProfile> profiles;
  bool profiling = false;
  Net::ConvInputHook conv_input_hook;
  std::shared_ptr<ThreadPool> pool;
  // Copies of this plan on one thread each, sharing its ops (net_streams.cc), made at the
  // first batch that runs on them.
  std::vector<std::shared_ptr<Impl>> streams;
  std::vector<AlignedFloats> scratch;  // per thread
  std::vector<AlignedFloats> cols;     // per thread: one im2col block
  AlignedFloats shared, pad_tmp;
  // A convolution's input with its padding written out (im2col_padded), or arranged for a
  // direct op.
  AlignedFloats padded;
  AlignedFloats arena;   // every blob that owns storage, reused
  std::map<std::string, int64_t> arena_offset;  // such a blob -> its first float in the arena
  int64_t batch = 0;                            // images the arena holds now
  int64_t pass_images = 1;                      // images a pass of forward() runs
  int64_t arena_bytes_one_image = 0;            // the activations of a pass of one image
  // Images a pass runs on `threads` threads: NetOptions::images_per_pass, or as many as their
  // L2 holds (images_in_l2).
  int64_t images_per_pass_on(int threads) const;
  PlanStats stats;
  std::string forced_schedule;  // NetOptions::force_schedule
  ConvSchedule forced;

  Status plan();
  // plan()'s phases: the options and the graph checked (shapes, softmax axes), codes expanded
  // where an op reads float32 weights; the activation budget checked before the kernels'
  // trials allocate; the dense weight copies dropped once the ops own packed ones.
  Status check_model();
  Status check_memory_floor(const std::map<std::string, int>& consumers,
                            const std::map<std::string, size_t>& producer);
  void drop_dense_weights();
  void plan_aliases(const std::map<std::string, int>& consumers,
                    const std::map<std::string, size_t>& producer);
  void plan_conv(size_t i, TuneCache* cache);
  // Marks each max pooling that only a convolution's output feeds (a direct op, or one over
  // im2col that is not a 1x1) to run inside that convolution (ConvPlan::then_pool); its input
  // blobs then take no memory.
  void plan_pool_fusion(const std::map<std::string, int>& consumers,
                        const std::map<std::string, size_t>& producer);
  // The (pooling, convolution) layer pairs plan_pool_fusion may fuse, by the graph alone
  // (whether the convolution's kernel is a direct op is known only once it is chosen).
  std::vector<std::pair<size_t, size_t>> fusable_poolings(
      const std::map<std::string, int>& consumers,
      const std::map<std::string, size_t>& producer) const;
  // Runs each two-input element-wise sum inside the convolutions that write one operand, when
  // nothing else reads it and the other is computed before them (ConvPlan::residual). After
  // plan_pool_fusion: a convolution that writes a pooling's output does not take a sum.
  void plan_add_fusion(const std::map<std::string, int>& consumers,
                       const std::map<std::string, size_t>& producer);
  // Whether one layer reads `blob`, and it is all that reads the blobs it is a view of (a
  // Dropout's input, a fused ReLU's convolution): writing into its storage changes nothing
  // another layer sees.
  bool read_only_here(const std::string& blob, const std::map<std::string, int>& consumers) const;
  // The convolutions that write `blob`'s storage, by `writers` (each stored blob's writing
  // layers), when nothing else does and each can take a sum (an op over B, writing its own
  // output); else none.
  std::vector<size_t> sole_conv_writers(
      const std::string& blob, const std::map<std::string, std::vector<size_t>>& writers) const;
  std::set<std::string> elided;  // blobs never stored (a fused pooling's input)
  // The op of layer i with the sparse (SpMM) or the dense (GEMM) kernel, or null when that
  // kernel cannot run it (or its ISA is not available).
  std::unique_ptr<ConvOp> make_conv_op(size_t i, const KernelChoice& choice) const;
  std::unique_ptr<ConvOp> make_conv_op(size_t i, bool sparse) const {
    return make_conv_op(i, KernelChoice{sparse, std::nullopt, 0});
  }
  // Times the candidate kernels and schedules of layer i on its real shape (or reads the
  // choice from the cache) and installs the fastest.
  void tune_conv(size_t i, TuneCache* cache);
  // Times the candidates of layer i and installs the fastest (its kernel in *choice).
  void time_candidates(size_t i, KernelChoice* choice, double* best_seconds, int* candidates);
  // Times layer i's candidates interleaved in rounds (tune_rounds.h), each as it will run:
  // each one's fastest seconds, +inf when its kernel cannot run the layer here.
  std::vector<double> time_in_rounds(size_t i, const std::vector<TuneCandidate>& cands);
  // One round of time_candidates (net_tune_candidates.cc).
  std::vector<double> time_round(size_t i, std::vector<TuneCandidate> cands, TuneBest* best);
  // The op the rule picks: the SpMM at or below sparse_max_density (or by the policy).
  std::unique_ptr<ConvOp> make_rule_op(size_t i) const;
  // Places every stored blob in the arena for batch_size images; kLimit past the budget.
  // check_only: the budget checked, nothing allocated (plan()'s first check, whose elided set
  // may hold more than will be elided: its message then says "at least").
  Status plan_memory(int64_t batch_size, bool check_only = false);
  void resolve(const std::string& blob, std::string* root, int64_t* offset) const;
  void resolve_placements();
  std::map<std::string, std::pair<std::string, int64_t>> resolved;  // view -> (root, floats)
  float* blob_ptr(const std::string& blob, int64_t image);
  // Copies `images` inputs in, runs every layer over them, copies their outputs out.
  void run_pass(const float* input, int64_t images, float* output);
  // Whether forward() runs a batch of `batch` images as image streams (NetOptions::
  // image_streams), and how many; 0: as one pass after another on all threads.
  int stream_count(int64_t batch) const;
  // The batch's images split into `count` contiguous runs, each on its own thread through its
  // own stream's passes. kLimit when the streams' activations cannot be planned.
  Status run_streams(const float* input, int64_t batch, int count, float* output);
  Status make_streams(int count);
  void run_layer(size_t i);
  void run_conv(size_t i);
  void prepare_shared(const ConvOp& op);
  std::vector<const float*> pad_inputs(const ConvShape& s, const std::vector<const float*>& ins);
  // residuals: per image, what each output is summed with (laid out as outs), or empty.
  void execute_conv(const ConvPlan& p, const ConvOp& op, const std::vector<const float*>& ins,
                    const std::vector<float*>& outs,
                    const std::vector<const float*>& residuals = {});
  struct BSource;
  BSource b_source(const ConvPlan& p, const ConvOp& op, int64_t images) const;
  void build_shared_b(const ConvShape& s, const BSource& src, const std::vector<const float*>& ins);
  void run_whole_images(const ConvShape& s, const ConvOp& op, const BSource& src,
                        const std::vector<const float*>& ins, const std::vector<float*>& outs,
                        const std::vector<const float*>& residuals);
  void run_column_blocks(const ConvPlan& p, const ConvOp& op, const BSource& src,
                         const std::vector<const float*>& ins, const std::vector<float*>& outs,
                         const std::vector<const float*>& residuals);
  // Each image's input arranged for a direct op (threads split images x channels).
  void arrange_direct(const ConvShape& s, const ConvOp& op, const std::vector<const float*>& ins);
  void run_direct(const ConvShape& s, const ConvOp& op, const std::vector<const float*>& ins,
                  const std::vector<float*>& outs);
  // A direct op with its max pooling (net_conv_pool.cc): outs are the pooling's outputs.
  void run_direct_pooled(const ConvShape& s, const ConvOp& op, const kernels::PoolShape& ps,
                         const std::vector<const float*>& ins, const std::vector<float*>& outs);
  // The same for an op over im2col (a GEMM or SpMM stem, as SqueezeNet v1.1's conv1): each
  // thread builds a band's im2col and runs the op into the band, all channels at once.
  void run_im2col_pooled(const ConvShape& s, const ConvOp& op, const kernels::PoolShape& ps,
                         const std::vector<const float*>& ins, const std::vector<float*>& outs);
  void size_scratch(const ConvOp& op);
  void run_pool(const Layer& l);
  void run_concat(const Layer& l);
  void run_relu(const Layer& l);
  void run_softmax(const Layer& l);
  void run_add(const Layer& l);
};

}  // namespace sqz::runtime
