// An element-wise sum run inside the convolutions that write one of its operands
// (NetOptions::fuse_add): SqueezeNet's bypass (Iandola et al. 2016, Sec. 6) adds a fire
// module's output (a concatenation of two expand convolutions) to an earlier one, or to a 1x1
// convolution of it. Unfused, the sum reads both operands back from memory and writes a third
// tensor (55x55x128 floats, 1.5 MB, for v1.0's fire2-3): 13% of a pass with complex bypass
// (bench -v, docs/performance-log.md).
// Fused, each convolution adds the residual to its tile while the tile is in cache, and the
// sum's output is the operand's storage. Each output is the same IEEE addition of the same two
// values as the unfused sum: the same bits (tests/unit/test_add_fusion.cc).
#include <algorithm>

#include "net_impl.h"

namespace sqz::runtime {

std::vector<size_t> Net::Impl::sole_conv_writers(
    const std::string& blob, const std::map<std::string, std::vector<size_t>>& writers) const {
  std::string root;
  int64_t offset;
  resolve(blob, &root, &offset);
  if (offset != 0 || per_image(shapes.at(root)) != per_image(shapes.at(blob))) return {};
  auto it = writers.find(root);
  if (it == writers.end()) return {};
  for (size_t i : it->second) {
    const ConvPlan& p = convs[i];
    const bool can_add = model.layers[i].op == OpKind::kConvolution && p.op && !p.then_pool &&
                         !p.pad_only && p.op->arranged_floats() == 0 && p.residual.empty();
    if (!can_add) return {};
  }
  return it->second;
}

bool Net::Impl::read_only_here(const std::string& blob,
                               const std::map<std::string, int>& consumers) const {
  for (std::string b = blob;;) {
    if (consumers.at(b) != 1) return false;
    auto it = placement.find(b);
    if (it == placement.end() || it->second.parent.empty()) return true;
    b = it->second.parent;
  }
}

void Net::Impl::plan_add_fusion(const std::map<std::string, int>& consumers,
                                const std::map<std::string, size_t>& producer) {
  if (!options.fuse_add || options.policy == KernelPolicy::kReference) return;
  // Each stored blob's writers, found once (a graph may hold thousands of layers). A sum fused
  // below stays listed as its output's writer: a later sum never runs inside it.
  std::map<std::string, std::vector<size_t>> writers;
  for (size_t i = 0; i < model.layers.size(); ++i) {
    if (skip[i]) continue;  // writes nothing (a view, or a layer run inside another)
    std::string root;
    int64_t unused;
    resolve(model.layers[i].output, &root, &unused);
    writers[root].push_back(i);
  }
  for (size_t a = 0; a < model.layers.size(); ++a) {
    const Layer& add = model.layers[a];
    if (add.op != OpKind::kAdd || skip[a] || add.inputs.size() != 2 ||
        placement.count(add.output) || add.inputs[0] == add.inputs[1])
      continue;
    for (int k = 0; k < 2; ++k) {
      const std::string& host = add.inputs[static_cast<size_t>(k)];
      const std::string& other = add.inputs[static_cast<size_t>(1 - k)];
      if (host == model.input || !read_only_here(host, consumers)) continue;
      const std::vector<size_t> hosts = sole_conv_writers(host, writers);
      if (hosts.empty() || (other != model.input && !producer.count(other))) continue;
      // The residual is complete before the first writer runs, and lives apart from the host.
      const size_t ready = other == model.input ? 0 : producer.at(other) + 1;
      std::string host_root, other_root;
      int64_t unused;
      resolve(host, &host_root, &unused);
      resolve(other, &other_root, &unused);
      if (ready > hosts.front() || host_root == other_root) continue;
      std::string names;
      for (size_t i : hosts) {
        std::string root;
        int64_t at;  // this writer's first float in the host (its channel offset)
        resolve(model.layers[i].output, &root, &at);
        convs[i].residual = other;
        convs[i].residual_shift = at;
        profiles[i].kernel += " +" + add.name;
        names += (names.empty() ? "" : ", ") + model.layers[i].name;
      }
      skip[a] = true;
      placement[add.output] = {host, 0};
      profiles[a].kernel = "in " + names;
      break;
    }
  }
  resolve_placements();
}

}  // namespace sqz::runtime
