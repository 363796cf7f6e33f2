// Sequential weight sharing (weight_sharing.h): passes over groups of independent
// convolutions, each pass measuring the network as shared so far.
#include <limits>
#include <set>

#include "sqz/pipeline/paired_activations.h"
#include "sqz/pipeline/weight_sharing.h"
#include "sqz/quantize/drift.h"

namespace sqz::pipeline {
namespace {

// For each convolution (by layer index), the convolutions its input depends on.
std::vector<std::set<size_t>> conv_ancestors(const Model& m) {
  std::map<std::string, size_t> producer;
  std::vector<std::set<size_t>> up(m.layers.size());
  for (size_t i = 0; i < m.layers.size(); ++i) {
    const Layer& l = m.layers[i];
    for (const std::string& in : l.inputs) {
      auto p = producer.find(in);
      if (p == producer.end()) continue;
      up[i].insert(up[p->second].begin(), up[p->second].end());
      if (m.layers[p->second].op == OpKind::kConvolution) up[i].insert(p->second);
    }
    producer[l.output] = i;
  }
  return up;
}

// The passes: runs of convolutions in graph order, each cut before the first convolution
// that depends on one already in the run.
std::vector<std::vector<size_t>> passes(const Model& m, const std::set<std::string>& shared) {
  const std::vector<std::set<size_t>> up = conv_ancestors(m);
  std::vector<std::vector<size_t>> out;
  for (size_t i = 0; i < m.layers.size(); ++i) {
    if (m.layers[i].op != OpKind::kConvolution || !shared.count(m.layers[i].name)) continue;
    bool depends = out.empty();
    for (size_t j : depends ? std::vector<size_t>{} : out.back()) depends |= up[i].count(j) > 0;
    if (depends) out.emplace_back();
    out.back().push_back(i);
  }
  return out;
}

int width_of(const quantize::QuantizeOptions& o, const std::string& name) {
  auto it = o.layer_bits.find(name);
  return it == o.layer_bits.end() ? o.bits : it->second;
}

// One layer: its target from the paired statistics, the codebook and codes under its own
// input's moment, then (optionally) its bias.
Status share_against_reference(Layer& layer, const Layer& reference, int bits,
                               const SharingOptions& o, const quantize::InputMoment& own,
                               const quantize::CrossMoment& cross, bool match_means) {
  SQZ_ASSIGN_OR_RETURN(std::vector<float> target,
                       quantize::drift_target(layer, reference.weight.data, own, cross,
                                              o.gptq.damping));
  // The codebook is fitted to the target's stored positions; pruned ones stay pruned.
  for (size_t i = 0; i < target.size(); ++i) {
    const bool stored = layer.mask.empty() ? layer.weight.data[i] != 0.0f : layer.mask[i] != 0;
    float& w = layer.weight.data[i];
    w = !stored ? 0.0f : target[i] != 0.0f ? target[i] : std::numeric_limits<float>::denorm_min();
  }
  SQZ_RETURN_IF_ERROR(quantize::quantize_layer(layer, bits, o.quantize).status());
  SQZ_RETURN_IF_ERROR(compensate_codes(layer, target, own, o));
  if (!match_means) return Status::ok();
  const std::vector<float> no_bias;
  return quantize::match_output_means(layer, reference.weight.data,
                                      reference.conv.has_bias ? reference.bias.data : no_bias,
                                      cross);
}

}  // namespace

Status share_weights_sequential(Model& model, const SharingOptions& o,
                                const SequentialSharing& s,
                                const std::function<Status(int, int)>& progress) {
  SQZ_RETURN_ERROR_IF(!s.reference || !s.images || s.n < 1, ErrorCode::kInvalidArgument,
                      "sequential weight sharing needs a reference network and images");
  SQZ_RETURN_IF_ERROR(quantize::check_options(model, o.quantize));
  std::set<std::string> shared;
  int total = 0;
  for (Layer& l : model.layers) {
    if (l.op != OpKind::kConvolution) continue;
    if (width_of(o.quantize, l.name) == 0) {
      l.quant = {};
      continue;
    }
    shared.insert(l.name);
    ++total;
  }
  int done = 0;
  std::vector<int> widths;  // codebook sizes of every shared layer so far: the cache's key
  const std::vector<std::vector<size_t>> order = passes(model, shared);
  PairedActivations activations(*s.reference, s.images, s.n, s.moments,
                                s.max_activation_bytes);
  for (size_t p = 0; p < order.size(); ++p) {
    const std::vector<size_t>& pass = order[p];
    std::set<std::string> names;
    for (size_t i : pass) {
      names.insert(model.layers[i].name);
      const std::string& name = model.layers[i].name;
      widths.push_back(quantize::centroids_for(o.quantize, name, width_of(o.quantize, name)));
    }
    SequentialCache* cache = s.cache;
    if (cache && p < cache->passes.size() && cache->passes[p].widths == widths) {
      for (size_t j = 0; j < pass.size(); ++j) model.layers[pass[j]] = cache->passes[p].layers[j];
      done += static_cast<int>(pass.size());
      if (progress) SQZ_RETURN_IF_ERROR(progress(done, total));
      continue;
    }
    SQZ_ASSIGN_OR_RETURN(PairedMoments paired, activations.collect(model, names, nullptr));
    for (size_t i : pass) {
      Layer& l = model.layers[i];
      const Layer* ref = s.reference->find_layer(l.name);
      if (!paired.own.count(l.name)) {  // too wide for statistics: nearest codes
        SQZ_RETURN_IF_ERROR(
            quantize::quantize_layer(l, width_of(o.quantize, l.name), o.quantize).status());
        if (progress) SQZ_RETURN_IF_ERROR(progress(++done, total));
        continue;
      }
      SQZ_RETURN_IF_ERROR(share_against_reference(l, *ref, width_of(o.quantize, l.name), o,
                                                  paired.own.at(l.name), paired.cross.at(l.name),
                                                  s.match_means));
      if (progress) SQZ_RETURN_IF_ERROR(progress(++done, total));
    }
    if (!cache) continue;
    cache->passes.resize(p);
    cache->passes.push_back({widths, {}});
    for (size_t i : pass) cache->passes.back().layers.push_back(model.layers[i]);
  }
  return Status::ok();
}

}  // namespace sqz::pipeline
