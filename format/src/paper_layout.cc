#include "sqz/format/paper_layout.h"

namespace sqz::format {

int64_t dense_float32_bytes(const Model& model) {
  return 4 * (model.weight_count() + model.bias_count());
}

int64_t relative_index_bytes(const Model& model, bool quantized) {
  int64_t bytes = 0;
  for (const Layer& l : model.layers) {
    if (l.op != OpKind::kConvolution) continue;
    int64_t entries = 0, last = -1;
    for (int64_t p = 0; p < l.weight.numel(); ++p) {
      if (l.mask.empty() ? l.weight.data[static_cast<size_t>(p)] == 0.0f
                         : !l.mask[static_cast<size_t>(p)])
        continue;
      entries += 1 + (p - last - 1) / 16;
      last = p;
    }
    const bool coded = quantized && l.quant.active();
    const int bits = coded ? l.quant.bits : 32;
    bytes += (entries * (bits + 4) + 7) / 8 + 4 * l.bias.numel() +
             (coded ? 4 * static_cast<int64_t>(l.quant.codebook.size()) : 0);
  }
  return bytes;
}

}  // namespace sqz::format
