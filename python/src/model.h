// squeeze_compress.Model: a model file opened for inference with the runtime, and the
// preprocessing it records (what `squeeze-compress run` applies to images).
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "sqz/core/graph.h"
#include "sqz/format/sqz_file.h"
#include "sqz/image/image.h"
#include "sqz/runtime/net.h"

namespace sqz::python {

namespace py = pybind11;

// Images to network inputs by a preprocessing description: a .sqz record's text, a preset
// ("caffe", "torchvision") or "" (Caffe's; grey for a 1-channel input), for an input of
// (C, H, W). The same code as the runtime's, so that a trainer sees what inference will.
class PyPreprocessor {
 public:
  PyPreprocessor(const std::string& description, const std::vector<int64_t>& chw);
  py::array_t<float> load(const std::string& path) const;
  std::string description() const;

 private:
  image::Preprocess pre_;
};

class PyModel {
 public:
  // Loads any model form (see load_any_model); preprocess: a preset name ("caffe",
  // "torchvision") used instead of what the file records (an error where they disagree,
  // unless force).
  // tune: each convolution's kernel and split timed on this CPU (runtime::NetOptions::tune),
  // the choices kept in tune_cache ("": the user's cache directory); tune_cache without tune
  // is refused.
  PyModel(const std::string& path, const std::string& prototxt, int threads,
          const std::vector<int64_t>& input_shape, const std::string& preprocess, bool force,
          bool tune, const std::string& tune_cache);

  // Float32 N x C x H x W (or C x H x W) inputs, already preprocessed -> N x classes.
  py::array_t<float> run(py::array input, int threads);
  // An image file, or decoded pixels (H x W x 3 RGB or H x W grey, uint8), preprocessed as
  // the file records -> the class scores.
  py::array_t<float> classify_file(const std::string& path, int threads);
  py::array_t<float> classify_pixels(py::array pixels, int threads);

  const std::string& path() const { return path_; }
  py::tuple input_shape() const;
  int64_t num_classes() const { return classes_; }
  std::optional<std::string> preprocess() const;
  std::string preprocess_source() const { return source_; }
  std::map<std::string, std::string> metadata() const;
  std::string notice() const { return notice_; }
  // How the net of the model's thread count was planned: seconds, layers timed and read from
  // the tuning cache, the cache's path and any note about it.
  py::dict plan();

 private:
  runtime::Net& net(int threads);  // REQUIRES: mu_ held
  py::array_t<float> forward(const std::vector<float>& input, int64_t batch, int threads);

  std::string path_;
  Model model_;
  format::Metadata metadata_;
  std::optional<image::Preprocess> pre_;  // none: the input is not an image
  std::string source_, notice_;
  int default_threads_ = 1;
  bool tune_ = false;
  std::string tune_cache_;
  Shape chw_;
  int64_t classes_ = 0;
  std::mutex mu_;
  std::map<int, std::unique_ptr<runtime::Net>> nets_;  // by thread count
};

// {layer name: (codebook, codes)} of every weight-shared layer of a model file.
py::dict codebooks(const std::string& path, const std::string& prototxt);

}  // namespace sqz::python
