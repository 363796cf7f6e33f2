// Keyword options from Python, typed and range-checked one by one; an unknown keyword, a wrong
// type or a value out of range raises Error("invalid_argument") naming the keyword.
#pragma once

#include <pybind11/pybind11.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "sqz/pipeline/compress.h"
#include "sqz/prune/prune.h"
#include "sqz/quantize/quantize.h"

namespace sqz::python {

namespace py = pybind11;

class Keywords {
 public:
  Keywords(py::dict options, std::string function)
      : options_(std::move(options)), function_(std::move(function)) {}
  bool has(const char* key) const { return options_.contains(key); }
  // Each reads `key` when given (leaving *out otherwise) and checks it.
  void integer(const char* key, int64_t lo, int64_t hi, int64_t* out);
  void integer(const char* key, int64_t lo, int64_t hi, int* out);
  void integer(const char* key, int64_t lo, int64_t hi, uint64_t* out);
  // lo_open: the value must be above lo.
  void real(const char* key, double lo, double hi, double* out, bool lo_open = false);
  void flag(const char* key, bool* out);
  void text(const char* key, std::string* out);
  // One of `choices`.
  void choice(const char* key, const std::vector<std::string>& choices, std::string* out);
  void name_values(const char* key, double lo, double hi, std::map<std::string, double>* out);
  void name_ints(const char* key, int lo, int hi, std::map<std::string, int>* out);
  void ints(const char* key, std::vector<int64_t>* out);
  // Raises for any keyword no reader asked for.
  void finish() const;
  // The keywords given.
  std::vector<std::string> given() const;

 private:
  [[noreturn]] void bad(const char* key, const std::string& what) const;
  py::handle get(const char* key);
  py::dict options_;
  std::string function_;
  std::vector<std::string> read_;
};

// The options of compress(), prune() and quantize() as the command line's flags set them.
pipeline::CompressOptions compress_options(Keywords& k);
struct PruneSettings {
  prune::PruneOptions options;
  std::string retrain_cmd;
};
PruneSettings prune_options(Keywords& k);
// retrain_cmd: the centroid-training command (retrain_centroids_by_command), or "".
quantize::QuantizeOptions quantize_options(Keywords& k, std::string* pipeline_text,
                                           std::string* retrain_cmd);
// A preset name ("caffe", "torchvision") or a whole record's text; none for "".
std::optional<pipeline::PreprocessSpec> preprocess_spec(const std::string& text);
// preprocess (as preprocess_spec reads it), re_record_preprocess; input_shape.
std::optional<pipeline::PreprocessSpec> preprocess_option(Keywords& k, bool* re_record);
import::ImportOptions import_option(Keywords& k);

}  // namespace sqz::python
