// Weight sharing towards a target size (compress.cc's helpers): the per-layer table of
// bytes and divergence, and the fit that re-measures the encoded file.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "sqz/pipeline/bit_allocation.h"
#include "sqz/format/sqz_file.h"
#include "sqz/pipeline/observer.h"
#include "sqz/pipeline/weight_sharing.h"

namespace sqz::pipeline::detail {

// What the width search reads of compress's options (seen, not copied).
struct WidthSearch {
  int64_t target_bytes;
  const std::vector<int>& widths;            // candidate widths in bits, ascending
  bool half_steps;                           // and half a bit between (codebook_sizes)
  const format::SqzEncodeOptions& encoding;  // the file's float codings
  int threads;
};

// The sharing options for choosing widths: without the codes' pair moves
// (GptqOptions::pair_passes), which only the codes written to the file take.
SharingOptions for_widths(const SharingOptions& sharing);

// Each layer's size and sensitivity at every candidate width (see bit_allocation.h), on n
// probe inputs, with the sharing options for_widths gives.
Result<BitTable> measure_widths(const Model& model, const WidthSearch& s,
                                const SharingOptions& sharing, const std::vector<float>& probe,
                                int n, Observer* observer);

// Each shared layer's width in bits as `q` asked it: its code bits, half a bit less for
// half_step_centroids, log2 of any other codebook size (a codebook k-means left partly unused
// keeps the width asked).
std::map<std::string, double> layer_widths(const Model& m, const quantize::QuantizeOptions& q);

// "layer=bits ..." for every shared layer in graph order, e.g. "conv1=6 conv2=6.5" (recorded
// in the file's metadata).
std::string widths_summary(const Model& m, const quantize::QuantizeOptions& q);

// Shares `model`'s weights (a copy per try) with widths allocated so that the encoded file,
// with its metadata, fits the target and lands within 0.5% below it; without a target (table
// null), with the fixed widths. The table does not see the metadata nor how the codes'
// histograms move: each try measures the bytes it missed (or left) and allocates for that much
// less (or more). share: how the weights are shared at the widths of a try (share_weights, or
// the sequential method); the fit's correction starts at fit->offset and ends there.
using Sharer = std::function<Status(Model&, const SharingOptions&)>;
struct Fit {
  Sharer share;
  int64_t offset = 0;  // target minus the table budget of the file kept (where a later fit starts)
  std::vector<int64_t> sizes;  // of each try's file, in order
  int max_tries = 8;
  quantize::QuantizeOptions kept;  // the widths of the file kept
};
Result<Model> quantize_to_fit(const Model& model, const WidthSearch& s,
                              const SharingOptions& sharing, const BitTable* table,
                              format::Metadata metadata, Fit* fit = nullptr);

// quantize_to_fit with share_weights_sequential, going on from where `fit` ended (its
// offset: the first try repeats its widths), in at most 6 tries (each costs a pass of the
// network per layer group); a note says what each try measured. kLimit when none fits. `fit`
// ends where this fit ended.
Result<Model> quantize_to_fit_sequentially(const Model& model, const WidthSearch& s,
                                           const SharingOptions& sharing, const BitTable* table,
                                           format::Metadata metadata, Fit& fit,
                                           const SequentialSharing& sequential,
                                           Observer* observer);

}  // namespace sqz::pipeline::detail
