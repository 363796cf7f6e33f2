#include "fold.h"

#include <cmath>

namespace sqz::import::detail {

Status fold_channel_affine(Layer& conv, const std::vector<double>& a, const std::vector<double>& b,
                           const std::string& where) {
  const int64_t out = conv.conv.out_channels;
  SQZ_RETURN_ERROR_IF(static_cast<int64_t>(a.size()) != out || static_cast<int64_t>(b.size()) != out,
                      ErrorCode::kShapeMismatch,
                      where + ": a per-channel transform of " + std::to_string(a.size()) +
                          " channels after a convolution with " + std::to_string(out));
  if (!conv.conv.has_bias) add_zero_bias(conv);
  const int64_t per_channel =
      static_cast<int64_t>(conv.weight.data.size()) / std::max<int64_t>(out, 1);
  for (int64_t c = 0; c < out; ++c) {
    SQZ_RETURN_ERROR_IF(!std::isfinite(a[c]) || !std::isfinite(b[c]), ErrorCode::kCorrupt,
                        where + ": channel " + std::to_string(c) + " has a non-finite factor");
    float* w = conv.weight.data.data() + c * per_channel;
    for (int64_t k = 0; k < per_channel; ++k) w[k] = static_cast<float>(w[k] * a[c]);
    float& bias = conv.bias.data[static_cast<size_t>(c)];
    bias = static_cast<float>(bias * a[c] + b[c]);
  }
  return Status::ok();
}

Status fold_batchnorm(Layer& conv, const BatchNormParams& bn, const std::string& where) {
  const size_t n = bn.scale.size();
  SQZ_RETURN_ERROR_IF(bn.bias.size() != n || bn.mean.size() != n || bn.var.size() != n,
                      ErrorCode::kShapeMismatch,
                      where + ": batch normalization parameters of different lengths");
  std::vector<double> a(n), b(n);
  for (size_t c = 0; c < n; ++c) {
    const double denom = static_cast<double>(bn.var[c]) + bn.epsilon;
    SQZ_RETURN_ERROR_IF(!(denom > 0), ErrorCode::kCorrupt,
                        where + ": variance + epsilon of channel " + std::to_string(c) +
                            " is not positive");
    a[c] = bn.scale[c] / std::sqrt(denom);
    b[c] = bn.bias[c] - bn.mean[c] * a[c];
  }
  return fold_channel_affine(conv, a, b, where);
}

void add_zero_bias(Layer& conv) {
  conv.conv.has_bias = true;
  conv.bias.shape = {conv.conv.out_channels};
  conv.bias.data.assign(static_cast<size_t>(conv.conv.out_channels), 0.0f);
}

}  // namespace sqz::import::detail
