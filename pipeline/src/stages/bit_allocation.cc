#include "sqz/pipeline/bit_allocation.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "sqz/pipeline/evaluate.h"
#include "sqz/format/sqz_file.h"
#include "sqz/runtime/net.h"

namespace sqz::pipeline {
namespace {

double mean_kl(const std::vector<float>& ref, const std::vector<float>& out, int64_t n) {
  const int64_t classes = static_cast<int64_t>(ref.size()) / n;
  double kl = 0;
  for (int64_t i = 0; i < n; ++i)
    kl += kl_divergence(ref.data() + i * classes, out.data() + i * classes, classes);
  return kl / static_cast<double>(n);
}

// Sharing options with `layer` at a width of `centroids`.
SharingOptions at_width(const SharingOptions& base, const std::string& layer, int centroids) {
  SharingOptions o = base;
  quantize::set_layer_width(o.quantize, layer, centroids);
  return o;
}

// Bytes of each layer's LAYER section (header, bias, codebook, positions, values) when every
// layer is shared at a width of `centroids` (pinned layers at their own), and the bytes outside
// the layers.
Result<std::map<std::string, int64_t>> section_bytes(const Model& model,
                                                     const SharingOptions& base, int centroids,
                                                     const format::SqzEncodeOptions& encoding,
                                                     int64_t* fixed) {
  Model m = model;
  SharingOptions o = base;
  for (const Layer& l : model.layers)
    if (l.op == OpKind::kConvolution && !base.quantize.layer_bits.count(l.name))
      quantize::set_layer_width(o.quantize, l.name, centroids);
  SQZ_RETURN_IF_ERROR(share_weights(m, o));
  std::string bytes;
  SQZ_ASSIGN_OR_RETURN(format::SqzFile f, format::encode_sqz(m, encoding, &bytes));
  std::map<std::string, int64_t> out;
  *fixed = static_cast<int64_t>(bytes.size());
  for (const format::LedgerRow& r : f.ledger) {
    if (r.layer.empty()) continue;
    out[r.layer] += static_cast<int64_t>(r.bytes);
    *fixed -= static_cast<int64_t>(r.bytes);
  }
  return out;
}

// Whether a layer pinned to `bits` may take a width of `centroids`: its own, or for a layer
// kept float (0), one entry (at the smallest size) holding its float section.
bool pin_allows(int bits, int centroids, int smallest) {
  return bits > 0 ? centroids == (1 << bits) : centroids == smallest;
}

}  // namespace

std::vector<int> codebook_sizes(const std::vector<int>& widths, bool half_steps) {
  std::vector<int> out;
  for (size_t i = 0; i < widths.size(); ++i) {
    if (half_steps && i > 0 && widths[i] == widths[i - 1] + 1)
      out.push_back(quantize::half_step_centroids(widths[i]));
    out.push_back(1 << widths[i]);
  }
  return out;
}

Result<BitTable> measure_bit_costs(const Model& model, const SharingOptions& sharing,
                                   const format::SqzEncodeOptions& encoding,
                                   const std::vector<int>& sizes, const float* probe, int64_t n,
                                   const std::vector<float>& teacher, int threads,
                                   const std::function<void(int, int)>& progress) {
  BitTable table;
  std::vector<size_t> convs;
  for (size_t i = 0; i < model.layers.size(); ++i)
    if (model.layers[i].op == OpKind::kConvolution) convs.push_back(i);
  for (size_t i : convs) table.layers.push_back({model.layers[i].name, {}, {}});
  const auto& pins = sharing.quantize.layer_bits;
  for (int k : sizes) {
    SQZ_ASSIGN_OR_RETURN(auto bytes,
                         section_bytes(model, sharing, k, encoding, &table.fixed_bytes));
    for (LayerCosts& c : table.layers)
      if (!pins.count(c.layer) || pin_allows(pins.at(c.layer), k, sizes.front()))
        c.bytes[k] = bytes[c.layer];
  }
  runtime::NetOptions no;
  no.threads = threads;
  no.policy = runtime::KernelPolicy::kDense;
  const int total = static_cast<int>(convs.size() * sizes.size());
  int done = 0;
  std::vector<float> out;
  for (size_t k = 0; k < convs.size(); ++k) {
    LayerCosts& c = table.layers[k];
    const bool kept_float = pins.count(c.layer) && pins.at(c.layer) == 0;
    for (int size : sizes) {
      if (c.bytes.count(size) && kept_float) {
        c.kl[size] = 0;  // the same in every choice: nothing to measure
      } else if (c.bytes.count(size)) {
        Model trial = model;
        const SharingOptions o = at_width(sharing, c.layer, size);
        SQZ_RETURN_IF_ERROR(
            share_layer(trial.layers[convs[k]], o.quantize.layer_bits.at(c.layer), o));
        SQZ_ASSIGN_OR_RETURN(auto net, runtime::Net::create(trial, no));
        SQZ_RETURN_IF_ERROR(forward_batched(*net, probe, n, &out));
        c.kl[size] = mean_kl(teacher, out, n);
      }
      progress(++done, total);
    }
    SQZ_RETURN_ERROR_IF(c.bytes.empty(), ErrorCode::kInvalidArgument,
                        "layer '" + c.layer + "' is pinned to a width not among `widths`");
    // Fewer centroids never cost less: remove measurement noise by a running maximum downwards.
    for (auto it = std::next(c.kl.rbegin()); it != c.kl.rend(); ++it)
      it->second = std::max(it->second, std::prev(it)->second);
  }
  return table;
}

int64_t allocated_bytes(const BitTable& table, const std::map<std::string, int>& centroids) {
  int64_t total = table.fixed_bytes;
  for (const LayerCosts& c : table.layers) total += c.bytes.at(centroids.at(c.layer));
  return total;
}

Result<std::map<std::string, int>> allocate_widths(const BitTable& table, int64_t target_bytes) {
  int64_t narrowest = table.fixed_bytes, widest = 0;
  for (const LayerCosts& c : table.layers) {
    narrowest += c.bytes.begin()->second;
    widest += c.bytes.rbegin()->second;
  }
  SQZ_RETURN_ERROR_IF(narrowest > target_bytes, ErrorCode::kInvalidArgument,
                      "the target of " + std::to_string(target_bytes) +
                          " bytes is below the smallest reachable size (" +
                          std::to_string(narrowest) + " bytes at the narrowest widths)");
  // Costs in units (rounded up), the budget rounded down: a choice that fits in units fits in
  // bytes. The unit depends on the table only, so the optimum is monotone in the target.
  const int64_t unit = std::max<int64_t>(1, (widest + 99999) / 100000);
  const int64_t budget = (target_bytes - table.fixed_bytes) / unit;
  const double kInf = std::numeric_limits<double>::infinity();
  // best[b]: the smallest summed cost of the layers so far within b units; choice[l][b]: the
  // width layer l takes in it (its codebook size; 0: none yet).
  std::vector<double> best(static_cast<size_t>(budget + 1), 0.0), next;
  std::vector<std::vector<int16_t>> choice(table.layers.size());
  for (size_t l = 0; l < table.layers.size(); ++l) {
    const LayerCosts& c = table.layers[l];
    next.assign(best.size(), kInf);
    choice[l].assign(best.size(), 0);
    for (const auto& [size, bytes] : c.bytes) {
      const int64_t units = (bytes + unit - 1) / unit;
      const double kl = c.kl.at(size);
      for (int64_t b = units; b <= budget; ++b) {
        const double v = best[static_cast<size_t>(b - units)] + kl;
        // Widths ascend: on a tie the wider one wins, so that equal costs spend the bytes.
        if (v <= next[static_cast<size_t>(b)]) {
          next[static_cast<size_t>(b)] = v;
          choice[l][static_cast<size_t>(b)] = static_cast<int16_t>(size);
        }
      }
    }
    best.swap(next);
  }
  SQZ_RETURN_ERROR_IF(best[static_cast<size_t>(budget)] == kInf, ErrorCode::kInvalidArgument,
                      "the target of " + std::to_string(target_bytes) +
                          " bytes is below the smallest reachable size (" +
                          std::to_string(narrowest) + " bytes at the narrowest widths, " +
                          std::to_string(unit) + "-byte units)");
  std::map<std::string, int> widths;
  int64_t b = budget;
  for (size_t l = table.layers.size(); l-- > 0;) {
    const LayerCosts& c = table.layers[l];
    const int w = choice[l][static_cast<size_t>(b)];
    widths[c.layer] = w;
    b -= (c.bytes.at(w) + unit - 1) / unit;
  }
  return widths;
}

int64_t next_fit_budget(const std::vector<FitTry>& tries, int64_t aim) {
  const FitTry& last = tries.back();
  double slope = 1;
  if (tries.size() >= 2) {
    const FitTry& before = tries[tries.size() - 2];
    const double secant = static_cast<double>(last.budget - before.budget) /
                          static_cast<double>(last.size - before.size);
    if (last.size != before.size && secant > 0) slope = std::clamp(secant, 0.5, 2.0);
  }
  return last.budget + std::llround(slope * static_cast<double>(aim - last.size));
}

}  // namespace sqz::pipeline
