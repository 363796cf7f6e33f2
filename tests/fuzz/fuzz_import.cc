// libFuzzer target for the importers that read a file: built once per format with
// SQZ_FUZZ_FORMAT = 1 (.net), 2 (.caffemodel), 3 (.prototxt), 4 (.onnx), 5 (image).
// The bytes are written to a temporary file and imported; the other files are fixed seeds. A
// graph that imports is then run against the naive twins (run_oracle.h; the input's last byte
// picks the kernels, threads, batch and split).
#include <cstdio>
#include <string>

#include "run_oracle.h"
#include "scratch.h"
#include "sqz/image/image.h"
#include "sqz/import/importers.h"

#if SQZ_FUZZ_FORMAT != 5
namespace {

// A small valid network definition for the weight-file targets.
const char kPrototxt[] = R"(name: "f" input: "data" input_shape { dim: 1 dim: 3 dim: 9 dim: 9 }
layer { name: "c1" type: "Convolution" bottom: "data" top: "c1"
        convolution_param { num_output: 4 kernel_size: 3 stride: 2 } }
layer { name: "r1" type: "ReLU" bottom: "c1" top: "c1" }
layer { name: "p1" type: "Pooling" bottom: "c1" top: "p1" pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
layer { name: "c2" type: "Convolution" bottom: "p1" top: "c2" convolution_param { num_output: 2 kernel_size: 1 pad: 1 } }
layer { name: "g" type: "Pooling" bottom: "c2" top: "g" pooling_param { pool: AVE global_pooling: true } }
)";

std::string temp_path(const char* ext) { return sqz_fuzz::scratch_dir() + "/input" + ext; }

}  // namespace
#endif

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
#if SQZ_FUZZ_FORMAT == 5
  (void)sqz::image::decode_image(bytes, "fuzz");
#else
  static const std::string proto = [] {
    const std::string p = temp_path(".prototxt.fixed");
    sqz_fuzz::write_input(p, kPrototxt);
    return p;
  }();
#if SQZ_FUZZ_FORMAT == 1
  const std::string path = temp_path(".net");
  sqz_fuzz::write_input(path, bytes);
  auto model = sqz::import::import_deep_compression_net(proto, path);
#elif SQZ_FUZZ_FORMAT == 2
  const std::string path = temp_path(".caffemodel");
  sqz_fuzz::write_input(path, bytes);
  auto model = sqz::import::import_caffe(proto, path);
#elif SQZ_FUZZ_FORMAT == 3
  const std::string path = temp_path(".prototxt");
  sqz_fuzz::write_input(path, bytes);
  auto model = sqz::import::import_caffe_prototxt(path);
#elif SQZ_FUZZ_FORMAT == 4
  const std::string path = temp_path(".onnx");
  sqz_fuzz::write_input(path, bytes);
  auto model = sqz::import::import_onnx(path);
#endif
  if (model.is_ok() && size > 0)
    sqz_fuzz::check_runtime(model.value(), model.value(), data[size - 1]);
#endif
  return 0;
}
