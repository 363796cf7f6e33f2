#include "ops.h"

namespace sqz::train {

void add_forward(const OpPass& op, const std::vector<float>& in, std::vector<float>& out) {
  out = in;
  for (size_t k = 1; k < op.l.inputs.size(); ++k)
    add_floats(op.w.act.at(op.l.inputs[k]).data(), static_cast<int64_t>(out.size()), out.data());
}

void add_backward(const OpPass& op, const std::vector<float>& dy, const GradOf& grad_of) {
  for (const std::string& name : op.l.inputs)
    if (name != op.model_input)
      add_floats(dy.data(), static_cast<int64_t>(dy.size()), zeroed(grad_of(name)).data());
}

}  // namespace sqz::train
