#include <algorithm>

#include "ops.h"

namespace sqz::train {

void concat_forward(const OpPass& op, std::vector<float>& out) {
  int64_t offset = 0;
  for (const std::string& name : op.l.inputs) {
    const std::vector<float>& src = op.w.act.at(name);
    const int64_t len = per_image(op.shapes.at(name));
    for (int64_t b = 0; b < op.n; ++b)
      std::copy(src.begin() + b * len, src.begin() + (b + 1) * len,
                out.begin() + b * per_image(op.os) + offset);
    offset += len;
  }
}

void concat_backward(const OpPass& op, const std::vector<float>& dy, const GradOf& grad_of) {
  int64_t offset = 0;
  for (const std::string& name : op.l.inputs) {
    const int64_t len = per_image(op.shapes.at(name));
    if (name != op.model_input) {
      const GradOut dx = grad_of(name);
      for (int64_t b = 0; b < op.n; ++b) {
        const float* src = dy.data() + b * per_image(op.os) + offset;
        if (dx.fresh)
          std::copy_n(src, len, dx.g.data() + b * len);
        else
          add_floats(src, len, dx.g.data() + b * len);
      }
    }
    offset += len;
  }
}

}  // namespace sqz::train
