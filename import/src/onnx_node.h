// What the ONNX importer's parts share about one node: its attributes by name, how it is named
// in errors, and refusals that name it.
#pragma once

#include <initializer_list>
#include <map>
#include <string>
#include <vector>

#include "onnx.pb.h"
#include "onnx_tensor.h"
#include "sqz/core/status.h"
#include "sqz/core/tensor.h"

namespace sqz::import::detail {

struct Attrs {
  explicit Attrs(const onnx::NodeProto& node) {
    for (const onnx::AttributeProto& x : node.attribute()) by_name[x.name()] = &x;
  }
  std::map<std::string, const onnx::AttributeProto*> by_name;
  bool has(const std::string& n) const { return by_name.count(n) > 0; }
  int64_t i(const std::string& n, int64_t def) const {
    auto it = by_name.find(n);
    return it == by_name.end() ? def : it->second->i();
  }
  float f(const std::string& n, float def) const {
    auto it = by_name.find(n);
    return it == by_name.end() ? def : it->second->f();
  }
  std::vector<int64_t> ints(const std::string& n) const {
    auto it = by_name.find(n);
    if (it == by_name.end()) return {};
    return {it->second->ints().begin(), it->second->ints().end()};
  }
  std::string s(const std::string& n) const {
    auto it = by_name.find(n);
    return it == by_name.end() ? std::string() : it->second->s();
  }
};

// "node 'NAME' (OpType)", for errors.
std::string who(const onnx::NodeProto& node);
// kUnsupported: "node 'NAME' (Op): what".
Status refuse(const onnx::NodeProto& node, const std::string& what);
// Refuses every attribute of node that is not in `known`.
Status only_attributes(const onnx::NodeProto& node, std::initializer_list<const char*> known);

// The integers of a constant (an initializer or a Constant node's tensor), each checked to be
// a whole number; `what` names the operand in the error.
Result<std::vector<int64_t>> integers_of(const onnx::NodeProto& node, const Initializers& init,
                                         const std::string& blob, const char* what);

// The axes of Squeeze, Unsqueeze or a Reduce node: the `axes` attribute before `input_from`
// (the opset where the operator took them as its second input: 13, or 18 for the Reduce
// operators), that input from then on; each made non-negative for `rank`. Empty when absent.
Result<std::vector<int64_t>> axes_of(const onnx::NodeProto& node, const Attrs& a, int64_t opset,
                                     int64_t input_from, const Initializers& init, int64_t rank);

// kernel, strides, pads, auto_pad and dilations of a Conv or pooling node, for input (N,C,H,W).
struct Window {
  int64_t kh = 1, kw = 1, sh = 1, sw = 1, ph = 0, pw = 0, eh = 0, ew = 0;
};
// eh/ew: padding past ph/pw at the bottom/right (asymmetric pads, SAME_*).
Status read_window(const onnx::NodeProto& node, const Attrs& a, const Shape& in, Window* w);

}  // namespace sqz::import::detail
