// libFuzzer target: the text records a user or a file supplies. SQZ_FUZZ_FORMAT 0: a
// preprocessing description (a .sqz or ONNX record); whatever parses must describe itself
// back to a text that parses to the same description. 1: a label file ("path<TAB>class"
// lines) read with a class list; 2: a class list.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "sqz/core/file_io.h"
#include "sqz/pipeline/labels.h"
#include "sqz/pipeline/preprocessing.h"

namespace {

// A folder for the input file and the class list beside it, made once per process and
// removed at its normal exit (a replay's; a fuzzer that finds something leaves it).
std::string g_scratch;

[[maybe_unused]] const std::string& scratch_dir() {
  static const std::string& dir = []() -> const std::string& {
    char name[] = "/tmp/sqz-fuzz-records-XXXXXX";
    const char* made = ::mkdtemp(name);
    if (!made) std::abort();
    g_scratch = made;
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(g_scratch, ec);
    });
    if (!sqz::write_file_atomic(g_scratch + "/classes.txt", "n0 zero\nn1 one, uno\nn2 two\n", true)
             .is_ok())
      std::abort();
    return g_scratch;
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
  const std::string& dir = scratch_dir();
  const std::string file = dir + "/input.txt";
  // A plain write: write_file_atomic's fsync made runs wait on the disk (timeouts under load).
  std::FILE* f = std::fopen(file.c_str(), "wb");
  if (!f || std::fwrite(text.data(), 1, text.size(), f) != text.size() || std::fclose(f) != 0)
    std::abort();
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
