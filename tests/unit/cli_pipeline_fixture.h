// The fixture of the CLI's pipeline tests (test_cli_pipeline.cc, test_cli_report.cc): a
// generated model and labelled images, and compress with small calibration settings.
#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include "sqz/import/exporters.h"
#include "test_util.h"

namespace sqz::test {

// A 3-class model on 31x31 inputs and 12 labelled PNGs named '<wnid>_<n>.png'.
struct Fixture {
  TempDir dir;
  std::string onnx = dir.file("m.onnx"), images = dir.file("images");
  explicit Fixture(double density = 0.6) {
    write_bytes(onnx, import::export_onnx(tiny_squeezenet(8, 31, 3, density)).value());
    write_labelled_pngs(dir.path(), 12);
  }
};

// compress on fold 1 of 2 with small calibration settings (6 steps unless extra says).
inline CliResult compress(const Fixture& f, const std::string& out, std::vector<std::string> extra) {
  std::vector<std::string> args = {"compress", f.onnx, "--calib", f.images,        "--calib-split",
                                   "1/2",      "-o",   out,       "--calib-batch", "2"};
  if (std::find(extra.begin(), extra.end(), "--calib-steps") == extra.end())
    extra.insert(extra.end(), {"--calib-steps", "6"});
  args.insert(args.end(), extra.begin(), extra.end());
  return run_cli(args);
}

}  // namespace sqz::test
