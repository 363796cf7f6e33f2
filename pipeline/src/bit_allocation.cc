#include "sqz/pipeline/bit_allocation.h"

#include <algorithm>
#include <cmath>

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

// Bytes of each layer's LAYER section (header, bias, codebook, positions, values) when every
// layer is quantized at `bits`, and the bytes outside the layers.
Result<std::map<std::string, int64_t>> section_bytes(const Model& model,
                                                     const quant::QuantizeOptions& base, int bits,
                                                     const format::SqzEncodeOptions& encoding,
                                                     int64_t* fixed) {
  Model m = model;
  quant::QuantizeOptions o = base;
  o.bits = bits;
  SQZ_RETURN_IF_ERROR(quant::quantize_model(m, o).status());
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

// Small batches keep the network's buffers small (they are allocated per network).
Status forward_in_chunks(rt::Net& net, const float* x, int64_t n, std::vector<float>* out) {
  constexpr int64_t kChunk = 4;
  const int64_t in_size = shape_numel(net.input_chw());
  std::vector<float> part;
  out->clear();
  for (int64_t i = 0; i < n; i += kChunk) {
    SQZ_RETURN_IF_ERROR(net.forward(x + i * in_size, std::min(kChunk, n - i), &part));
    out->insert(out->end(), part.begin(), part.end());
  }
  return Status::ok();
}

}  // namespace

Result<BitTable> measure_bit_costs(const Model& model, const quant::QuantizeOptions& base,
                                   const format::SqzEncodeOptions& encoding,
                                   const std::vector<int>& widths, const float* probe, int64_t n,
                                   const std::vector<float>& teacher, int threads,
                                   const std::function<void(int, int)>& progress) {
  BitTable table;
  std::vector<size_t> convs;
  for (size_t i = 0; i < model.layers.size(); ++i)
    if (model.layers[i].op == OpKind::kConvolution) convs.push_back(i);
  for (size_t i : convs) table.layers.push_back({model.layers[i].name, {}, {}});
  for (int bits : widths) {
    SQZ_ASSIGN_OR_RETURN(auto sizes,
                         section_bytes(model, base, bits, encoding, &table.fixed_bytes));
    for (LayerCosts& c : table.layers) c.bytes[bits] = sizes[c.layer];
  }
  rt::NetOptions no;
  no.threads = threads;
  no.policy = rt::KernelPolicy::kDense;
  const int total = static_cast<int>(convs.size() * widths.size());
  int done = 0;
  std::vector<float> out;
  for (size_t k = 0; k < convs.size(); ++k) {
    LayerCosts& c = table.layers[k];
    const auto pinned = base.layer_bits.find(c.layer);
    for (int bits : widths) {
      if (pinned != base.layer_bits.end() && pinned->second != bits) {
        c.kl[bits] = 0;  // never chosen: see allocate_bits
      } else {
        Model trial = model;
        SQZ_RETURN_IF_ERROR(quant::quantize_layer(trial.layers[convs[k]], bits, base).status());
        SQZ_ASSIGN_OR_RETURN(auto net, rt::Net::create(trial, no));
        SQZ_RETURN_IF_ERROR(forward_in_chunks(*net, probe, n, &out));
        c.kl[bits] = mean_kl(teacher, out, n);
      }
      progress(++done, total);
    }
    // Fewer bits never cost less: remove measurement noise by a running maximum downwards.
    for (auto it = std::next(c.kl.rbegin()); it != c.kl.rend(); ++it)
      it->second = std::max(it->second, std::prev(it)->second);
  }
  return table;
}

int64_t allocated_bytes(const BitTable& table, const std::map<std::string, int>& bits) {
  int64_t total = table.fixed_bytes;
  for (const LayerCosts& c : table.layers) total += c.bytes.at(bits.at(c.layer));
  return total;
}

Result<std::map<std::string, int>> allocate_bits(const BitTable& table, int64_t target_bytes) {
  std::map<std::string, int> bits;
  for (const LayerCosts& c : table.layers) bits[c.layer] = c.bytes.rbegin()->first;
  int64_t total = allocated_bytes(table, bits);
  while (total > target_bytes) {
    const LayerCosts* best = nullptr;
    double best_ratio = 0;
    int best_to = 0;
    for (const LayerCosts& c : table.layers) {
      const int now = bits[c.layer];
      auto lower = c.bytes.find(now);
      if (lower == c.bytes.begin()) continue;
      const int to = std::prev(lower)->first;
      const int64_t saved = c.bytes.at(now) - c.bytes.at(to);
      if (saved <= 0) continue;
      const double ratio = (c.kl.at(to) - c.kl.at(now)) / static_cast<double>(saved);
      if (!best || ratio < best_ratio) best = &c, best_ratio = ratio, best_to = to;
    }
    SQZ_RETURN_ERROR_IF(!best, ErrorCode::kInvalidArgument,
                        "the target of " + std::to_string(target_bytes) +
                            " bytes is below the smallest reachable size (" +
                            std::to_string(total) + " bytes at the narrowest widths)");
    total -= best->bytes.at(bits[best->layer]) - best->bytes.at(best_to);
    bits[best->layer] = best_to;
  }
  return bits;
}

}  // namespace sqz::pipeline
