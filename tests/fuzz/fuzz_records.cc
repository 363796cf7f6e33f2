// libFuzzer target: the text records a user or a file supplies. SQZ_FUZZ_FORMAT 0: a
// preprocessing description (a .sqz or ONNX record); whatever parses must describe itself
// back to a text that parses to the same description. 1: a label file ("path<TAB>class"
// lines) read with a class list; 2: a class list.
#include <cstdlib>
#include <string>

#include "scratch.h"
#include "sqz/pipeline/labels.h"
#include "sqz/pipeline/preprocessing.h"

namespace {

// The class list beside the input file, written once per process.
[[maybe_unused]] const std::string& scratch_with_classes() {
  static const std::string& dir = []() -> const std::string& {
    sqz_fuzz::write_input(sqz_fuzz::scratch_dir() + "/classes.txt",
                          "n0 zero\nn1 one, uno\nn2 two\n");
    return sqz_fuzz::scratch_dir();
  }();
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
#if SQZ_FUZZ_FORMAT == 0
  auto p = sqz::pipeline::parse_preprocess(text);
  if (p.is_ok()) {
    const std::string again = sqz::pipeline::describe_preprocess(*p);
    auto q = sqz::pipeline::parse_preprocess(again);
    if (!q.is_ok() || sqz::pipeline::describe_preprocess(*q) != again) std::abort();
  }
#else
  const std::string& dir = scratch_with_classes();
  const std::string file = dir + "/input.txt";
  sqz_fuzz::write_input(file, text);
#if SQZ_FUZZ_FORMAT == 1
  auto files = sqz::pipeline::list_dataset({dir, dir + "/classes.txt", file}, false);
  if (files.is_ok()) {
    if (!sqz::pipeline::check_labels_fit(*files, 3, "model").is_ok()) return 0;
    for (int label : files->labels)
      if (label < 0 || label > 2) std::abort();
  }
#else
  (void)sqz::pipeline::read_labels(file);
#endif
#endif
  return 0;
}
