// Both networks' activations at one cut of the graph, for every calibration image (and its
// mirror), kept between the passes of sequential weight sharing. Each pass then runs only the
// layers after the cut instead of the whole network from the images: the passes cost about
// one forward pass per try instead of one per pass (18 for SqueezeNet, most of them through
// the large early layers).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "sqz/core/graph.h"
#include "sqz/core/status.h"
#include "sqz/pipeline/input_moments.h"

namespace sqz::pipeline {

// What sequential sharing keeps by default: an eighth of the machine's memory, at most 2 GiB.
// SqueezeNet v1.0 at 227 x 227 needs 3.1 MB an image (both networks) at its widest cut, a
// Fire module's output at 55 x 55: 256 images and their mirrors fit.
int64_t default_activation_budget();

// Per layer index i: the one blob that layers i.. read from earlier ones (or the output), when
// there is exactly one; "" otherwise (the cuts of the graph). Index 0 is the model's input.
std::vector<std::string> single_live_blobs(const Model& m);

class PairedActivations {
 public:
  // reference: the float network (copied); inputs: n images (N x C x H x W floats) that must outlive
  // this. max_bytes bounds what is kept (both networks, the old and the new cut while moving
  // on); a cut that would pass it is not taken and the layers before it run again instead.
  PairedActivations(const Model& reference, const float* inputs, int64_t n,
                    const MomentOptions& options, int64_t max_bytes);

  // The numbers collect_paired_moments(model, reference, layers, inputs, n, options) gives,
  // bit for bit. model: the reference's graph with other weights. Calls must come in graph
  // order, and the layers before the named ones must not change after a call (they are kept
  // as activations): the order of sequential sharing. A model whose graph differs from the
  // reference's gets collect_paired_moments itself.
  Result<PairedMoments> collect(const Model& model, const std::set<std::string>& layers,
                                const std::function<Status(int64_t)>& progress);

  Status status() const { return init_; }  // the reference's graph refused, if it was
  int64_t cut() const { return at_; }  // index of the first layer not run yet (0: images)
  int64_t bytes() const;               // activations kept now

  // For callers that walk the cuts themselves (block reconstruction). The one blob live
  // before layer `cut` (0: the input; graph().layers.size(): the output), or "" where more are.
  std::string blob_at(int64_t cut) const;
  Shape chw_at(int64_t cut) const;  // that blob's C x H x W; REQUIRES blob_at(cut) != ""
  const Model& graph() const { return graph_; }  // the reference, validated
  int64_t items() const { return items_; }       // the images, and their mirrors if asked
  // Both networks from the current cut to `cut` (>= cut(), blob_at(cut) != ""), model's
  // layers before it as they are now. kLimit when the kept activations at both cuts would
  // pass max_bytes.
  Status advance(const Model& model, int64_t cut);
  // The kept activations of `items` at the current cut, one after another (C x H x W each).
  Status gather(const std::vector<int64_t>& items, std::vector<float>* own,
                std::vector<float>* reference);

 private:
  // A batch of the kept sequence: items [item, item + count) are images [image, image +
  // count), mirrored or not (the batches collect_paired_moments runs, in its order).
  struct Run {
    int64_t item = 0, count = 0, image = 0;
    bool mirrored = false;
  };
  using RunFn = std::function<Status(const Run&, const float* own, const float* reference)>;

  Status for_each_run(const std::function<Status(int64_t)>& progress, const RunFn& run);
  Status move_to(const Model& model, int64_t cut);
  bool same_graph(const Model& model) const;
  // Layers [begin, end) of m (the reference's graph) as a network whose input is the blob
  // live before `begin`.
  Model slice(const Model& m, int64_t begin, int64_t end, const std::string& output) const;

  Model graph_;  // the reference, validated (its layers in the order the indices use)
  const float* inputs_;
  int64_t n_;
  MomentOptions options_;
  int64_t max_bytes_;
  Status init_;
  std::vector<Run> runs_;
  int64_t items_ = 0;
  std::vector<std::string> live_;        // per layer index i: the one blob live before it, or ""
  std::map<std::string, Shape> shapes_;  // batch 1
  int64_t at_ = 0;
  std::vector<float> own_, ref_;  // items x the cut blob's C x H x W, when at_ > 0
  std::vector<float> mirrored_;   // a mirrored batch of images
};

}  // namespace sqz::pipeline
