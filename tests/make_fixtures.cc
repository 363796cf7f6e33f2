// Writes the generated inputs of the CLI transcript and report-rendering tests into DIR:
// m.onnx (a 3-class SqueezeNet-shaped model on 31x31 inputs, 60% dense), images/ (12
// labelled PNGs '<wnid>_<n>.png') and synsets.txt.
// usage: make_fixtures DIR
#include <cstdio>
#include <filesystem>

#include "sqz/import/exporters.h"
#include "test_util.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_fixtures DIR\n");
    return 2;
  }
  const std::string dir = argv[1];
  auto onnx = sqz::import::export_onnx(sqz::test::tiny_squeezenet(8, 31, 3, 0.6));
  if (!onnx.is_ok()) {
    std::fprintf(stderr, "make_fixtures: %s\n", onnx.status().message().c_str());
    return 1;
  }
  sqz::test::write_labelled_pngs(dir, 12);  // creates dir
  sqz::test::write_bytes(dir + "/m.onnx", *onnx);
  return 0;
}
