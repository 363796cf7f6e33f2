#include "sqz/pipeline/weight_sharing.h"

#include "sqz/quantize/refit.h"

namespace sqz::pipeline {

Status share_layer(Layer& layer, int bits, const SharingOptions& o) {
  const std::vector<float> original = layer.weight.data;
  SQZ_RETURN_IF_ERROR(quantize::quantize_layer(layer, bits, o.quantize).status());
  if (!o.moments) return Status::ok();
  auto it = o.moments->find(layer.name);
  if (it == o.moments->end()) return Status::ok();
  return compensate_codes(layer, original, it->second, o);
}

Status compensate_codes(Layer& layer, const std::vector<float>& target,
                        const quantize::InputMoment& moment, const SharingOptions& o) {
  SQZ_RETURN_IF_ERROR(quantize::assign_codes(layer, target, moment, o.gptq).status());
  constexpr int kRounds = 2;  // measured: one refit alone did worse than none (docs/tutorial.md)
  for (int round = 0; o.refit_codebook && round < kRounds; ++round) {
    SQZ_ASSIGN_OR_RETURN(quantize::RefitStats refit,
                         quantize::refit_codebook(layer, target, moment, o.gptq.damping));
    if (!refit.changed || round + 1 == kRounds) break;
    SQZ_RETURN_IF_ERROR(quantize::assign_codes(layer, target, moment, o.gptq).status());
  }
  return Status::ok();
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
