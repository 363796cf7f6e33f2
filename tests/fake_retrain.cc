// A stand-in for a user's fine-tuning script, for the --retrain-cmd tests.
// usage: fake_retrain MODE IN.onnx OUT.onnx
//   shift: adds 0.01 to every weight (pruned ones too); fail: exits 3; nothing: writes no
//   output; reshape: writes a model whose first layer has another shape.
#include <cstdio>
#include <string>

#include "sqz/core/file_io.h"
#include "sqz/import/exporters.h"
#include "sqz/import/importers.h"

int main(int argc, char** argv) {
  if (argc != 4) return 2;
  const std::string mode = argv[1];
  if (mode == "fail") return 3;
  if (mode == "nothing") return 0;
  auto m = sqz::import::import_onnx(argv[2]);
  if (!m.is_ok()) {
    std::fprintf(stderr, "%s\n", m.status().message().c_str());
    return 1;
  }
  for (sqz::Layer& l : m->layers)
    for (float& w : l.weight.data) w += 0.01f;
  if (mode == "reshape") {  // a one-layer model whose convolution has one more output
    m->layers.resize(1);
    sqz::Layer& l = m->layers[0];
    m->output = l.output;
    l.conv.out_channels += 1;
    l.weight.shape[0] += 1;
    l.weight.data.resize(static_cast<size_t>(sqz::shape_numel(l.weight.shape)), 0.1f);
    l.bias.shape[0] += 1;
    l.bias.data.push_back(0.0f);
  }
  auto bytes = sqz::import::export_onnx(*m);
  return bytes.is_ok() && sqz::write_file_atomic(argv[3], *bytes, true).is_ok() ? 0 : 1;
}
