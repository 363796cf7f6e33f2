#include "sqz/pipeline/weight_sharing.h"

namespace sqz::pipeline {

Status share_layer(Layer& layer, int bits, const SharingOptions& o) {
  const std::vector<float> original = layer.weight.data;
  SQZ_RETURN_IF_ERROR(quantize::quantize_layer(layer, bits, o.quantize).status());
  if (!o.moments) return Status::ok();
  auto it = o.moments->find(layer.name);
  if (it == o.moments->end()) return Status::ok();
  return quantize::assign_codes(layer, original, it->second, o.gptq).status();
}

Status share_weights(Model& model, const SharingOptions& o) {
  const quantize::QuantizeOptions& options = o.quantize;
  SQZ_RETURN_IF_ERROR(quantize::check_options(model, options));
  for (Layer& l : model.layers) {
    if (l.op != OpKind::kConvolution) continue;
    auto pinned = options.layer_bits.find(l.name);
    const int bits = pinned == options.layer_bits.end() ? options.bits : pinned->second;
    if (bits == 0) {
      l.quant = {};
      continue;
    }
    SQZ_RETURN_IF_ERROR(share_layer(l, bits, o));
  }
  return Status::ok();
}

}  // namespace sqz::pipeline
