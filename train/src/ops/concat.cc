#include <algorithm>

#include "ops.h"

namespace sqz::train {

// In the channel-major layout a channel concat is the inputs one after another.
void concat_forward(const OpPass& op, std::vector<float>& out) {
  auto at = out.begin();
  for (const std::string& name : op.l.inputs) {
    const std::vector<float>& src = op.w.act.at(name);
    at = std::copy_n(src.begin(), op.n * per_image(op.shapes.at(name)), at);
  }
}

void concat_backward(const OpPass& op, const std::vector<float>& dy, const GradOf& grad_of) {
  int64_t offset = 0;
  for (const std::string& name : op.l.inputs) {
    const int64_t len = op.n * per_image(op.shapes.at(name));
    if (name != op.model_input) {
      const GradOut dx = grad_of(name);
      if (dx.fresh)
        std::copy_n(dy.data() + offset, len, dx.g.data());
      else
        add_floats(dy.data() + offset, len, dx.g.data());
    }
    offset += len;
  }
}

}  // namespace sqz::train
