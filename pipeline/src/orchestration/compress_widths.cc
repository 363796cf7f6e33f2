#include "compress_widths.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <set>

#include "sqz/pipeline/evaluate.h"
#include "sqz/runtime/net.h"

namespace sqz::pipeline::detail {

// Measured on the release SqueezeNet at 370,000 bytes (docs/tutorial.md): with the pair moves
// in the widths' table too, the allocation gave the 3x3 expands narrower codes and the file's
// KL on held-out images rose; with them in the file's codes alone it fell.
SharingOptions for_widths(const SharingOptions& sharing) {
  SharingOptions o = sharing;
  o.gptq.pair_passes = 0;
  return o;
}

Result<BitTable> measure_widths(const Model& model, const WidthSearch& s,
                                const SharingOptions& sharing, const std::vector<float>& probe,
                                int n, Observer* observer) {
  runtime::NetOptions no;
  no.threads = s.threads;
  no.policy = runtime::KernelPolicy::kDense;
  SQZ_ASSIGN_OR_RETURN(auto net, runtime::Net::create(model, no));
  std::vector<float> teacher;
  SQZ_RETURN_IF_ERROR(forward_batched(*net, probe.data(), n, &teacher));
  int64_t layers = 0;
  for (const Layer& l : model.layers) layers += l.op == OpKind::kConvolution;
  const std::vector<int> sizes = codebook_sizes(s.widths, s.half_steps);
  Task task(observer, "sensitivity per layer and width",
            layers * static_cast<int64_t>(sizes.size()));
  Status cancelled;
  SQZ_ASSIGN_OR_RETURN(BitTable table,
                       measure_bit_costs(model, for_widths(sharing), s.encoding, sizes,
                                         probe.data(), n, teacher, s.threads,
                                         [&](int done, int) {
                                           if (cancelled.is_ok()) cancelled = task.advance(done);
                                         }));
  SQZ_RETURN_IF_ERROR(cancelled);
  return table;
}

std::map<std::string, double> layer_widths(const Model& m, const quantize::QuantizeOptions& q) {
  std::map<std::string, double> out;
  for (const Layer& l : m.layers) {
    if (!l.quant.active()) continue;
    const int bits = l.quant.bits, k = quantize::centroids_for(q, l.name, bits);
    out[l.name] = k == (1 << bits)                              ? bits
                  : k == quantize::half_step_centroids(bits) ? bits - 0.5
                                                             : std::log2(k);
  }
  return out;
}

std::string widths_summary(const Model& m, const quantize::QuantizeOptions& q) {
  const std::map<std::string, double> widths = layer_widths(m, q);
  std::string out;
  for (const Layer& l : m.layers)
    if (l.quant.active()) {
      char width[16];
      std::snprintf(width, sizeof width, "%.3g", widths.at(l.name));
      out += (out.empty() ? "" : " ") + l.name + "=" + width;
    }
  return out;
}


Result<Model> quantize_to_fit(const Model& model, const WidthSearch& s,
                              const SharingOptions& sharing, const BitTable* table,
                              format::Metadata metadata, Fit* fit) {
  Fit plain;
  Fit& f = fit ? *fit : plain;
  const Sharer share = f.share ? f.share : [](Model& m, const SharingOptions& o) {
    return share_weights(m, o);
  };
  if (!table) {
    Model m = model;
    SQZ_RETURN_IF_ERROR(share(m, sharing));
    f.kept = sharing.quantize;
    return m;
  }
  // Accepted: within 0.5% below the target; aimed at: the middle of that band.
  const int64_t close_enough = s.target_bytes - s.target_bytes / 200;
  const int64_t aim = s.target_bytes - s.target_bytes / 400;
  int64_t budget = s.target_bytes - f.offset, best_size = -1, best_budget = budget;
  Model best;
  std::vector<FitTry> tries;
  std::set<std::map<std::string, int>> tried;
  for (int attempt = 0; attempt < f.max_tries; ++attempt) {
    SQZ_ASSIGN_OR_RETURN(auto widths, allocate_widths(*table, budget));
    // Widths already tried: the same way further, doubling, until the allocation moves.
    int64_t push = std::max<int64_t>(1, s.target_bytes / 1000);
    for (int i = 0; tried.count(widths) && i < 16; ++i, push *= 2) {
      budget += tries.back().size > aim ? -push : push;
      SQZ_ASSIGN_OR_RETURN(widths, allocate_widths(*table, budget));
    }
    if (!tried.insert(widths).second) break;  // the allocation can move no further
    SharingOptions o = sharing;
    for (const auto& [name, centroids] : widths)
      if (!sharing.quantize.layer_bits.count(name))
        quantize::set_layer_width(o.quantize, name, centroids);
    Model m = model;
    SQZ_RETURN_IF_ERROR(share(m, o));
    format::SqzEncodeOptions eo = s.encoding;
    eo.metadata = metadata;
    eo.metadata.push_back({"widths", widths_summary(m, o.quantize)});
    std::string bytes;
    SQZ_RETURN_IF_ERROR(format::encode_sqz(m, eo, &bytes).status());
    const int64_t size = static_cast<int64_t>(bytes.size());
    f.sizes.push_back(size);
    tries.push_back({budget, size});
    if (size <= s.target_bytes && size > best_size) {
      best = std::move(m), best_size = size, best_budget = budget;
      f.kept = o.quantize;
    }
    if (best_size >= close_enough) break;
    budget = next_fit_budget(tries, aim);
  }
  SQZ_RETURN_ERROR_IF(best_size < 0, ErrorCode::kLimit,
                      "the widths found do not fit `target_bytes` after " +
                          std::to_string(f.max_tries) + " tries");
  f.offset = s.target_bytes - best_budget;  // a later fit starts from the widths kept
  return best;
}

Result<Model> quantize_to_fit_sequentially(const Model& model, const WidthSearch& s,
                                           const SharingOptions& sharing, const BitTable* table,
                                           format::Metadata metadata, Fit& fit,
                                           const SequentialSharing& seq, Observer* observer) {
  int64_t layers = 0;  // shared ones: all convolutions but those pinned to float
  for (const Layer& l : model.layers) {
    auto pinned = sharing.quantize.layer_bits.find(l.name);
    layers += l.op == OpKind::kConvolution &&
              (pinned == sharing.quantize.layer_bits.end() || pinned->second != 0);
  }
  const auto t0 = std::chrono::steady_clock::now();
  fit.sizes.clear();
  fit.max_tries = 6;
  SequentialCache cache;
  SequentialSharing cached = seq;
  cached.cache = &cache;
  fit.share = [&](Model& m, const SharingOptions& o) {
    Task task(observer, "codes against the uncompressed network, layer after layer", layers);
    return share_weights_sequential(m, o, cached,
                                    [&](int done, int) { return task.advance(done); });
  };
  Result<Model> shared = quantize_to_fit(model, s, sharing, table, std::move(metadata), &fit);
  fit.share = nullptr;  // it refers to this call's cache
  std::string sizes;  // every try's, fitting or not (none when the widths were given)
  for (int64_t b : fit.sizes) sizes += (sizes.empty() ? "; " : ", ") + std::to_string(b);
  if (!sizes.empty()) sizes += " bytes";
  char line[256];
  std::snprintf(line, sizeof line,
                "  codes and biases against the uncompressed network, layer after layer (%lld "
                "images%s%s; %.0f s)",
                static_cast<long long>(seq.n), seq.moments.mirror ? " and their mirrors" : "",
                sizes.c_str(),
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  if (observer) observer->note(line);
  return shared;
}

}  // namespace sqz::pipeline::detail
