// squeeze-compress: Deep Compression (Han, Mao, Dally, ICLR 2016) for SqueezeNet models.
#include <malloc.h>

#include <cstdio>
#include <cstring>
#include <exception>
#include <new>
#include <string>

#include "commands.h"
#include "common.h"
#include "sqz/core/file_io.h"
#include "sqz/core/version.h"

namespace {

struct Command {
  const char* name;
  int (*run)(int, char**);
  const char* summary;
};

const Command kCommands[] = {
    {"compress", sqz::cli::cmd_compress,
     "the whole pipeline: prune, share weights, calibrate, Huffman-code into a .sqz"},
    {"prune", sqz::cli::cmd_prune, "magnitude pruning with masks, schedules and a retraining hook"},
    {"sensitivity", sqz::cli::cmd_sensitivity,
     "prune each layer alone and measure the accuracy cost"},
    {"quantize", sqz::cli::cmd_quantize,
     "share weights: per-layer k-means codebooks, write a .sqz"},
    {"encode", sqz::cli::cmd_encode, "write an already quantized model (e.g. the release) as .sqz"},
    {"decode", sqz::cli::cmd_decode, "export a .sqz as dense float32 ONNX or Caffe"},
    {"bench", sqz::cli::cmd_bench, "measure inference latency per layer and in total"},
    {"info", sqz::cli::cmd_info, "describe a model: layers, shapes, parameters, density, size"},
    {"run", sqz::cli::cmd_run, "classify images and print the top classes"},
    {"eval", sqz::cli::cmd_eval, "measure top-1/top-5 accuracy on a folder of labelled images"},
    {"report", sqz::cli::cmd_report,
     "stage table, per-layer ledger and accuracy against size (Markdown, JSON, HTML)"},
};

void print_usage(FILE* out) {
  std::fprintf(out, "usage: squeeze-compress COMMAND [options]\n\ncommands:\n");
  for (const Command& c : kCommands) std::fprintf(out, "  %-12s %s\n", c.name, c.summary);
  std::fprintf(out,
               "\n'squeeze-compress COMMAND --help' (or 'help COMMAND') describes a command.\n");
}

}  // namespace

int main(int argc, char** argv) {
  sqz::install_interrupt_cleanup();
  // Keep freed memory for reuse instead of returning it to the kernel: calibration and the
  // sensitivity sweeps build and drop many networks whose buffers would otherwise be faulted
  // in afresh every time (page faults cost more than the work on a VM).
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 2 << 30);
  if (argc < 2) {
    print_usage(stderr);
    return sqz::cli::kExitUsage;
  }
  std::string name = argv[1];
  // `help COMMAND` is `COMMAND --help`, as git and cargo have it.
  char help_flag[] = "--help";
  char* help_argv[] = {argv[0], argc > 2 ? argv[2] : nullptr, help_flag, nullptr};
  if (name == "help" && argc == 3) {
    name = argv[2];
    argc = 3, argv = help_argv;
  } else if (name == "--help" || name == "-h" || name == "help") {
    print_usage(stdout);
    return sqz::cli::kExitOk;
  }
  if (name == "--version") {
    std::printf("%s\n", sqz::kProducer);
    return sqz::cli::kExitOk;
  }
  for (const Command& c : kCommands) {
    if (name != c.name) continue;
    // The libraries return errors as values; what still escapes (an allocation that fails
    // under a memory limit, a filesystem or protobuf exception) ends as one line and exit 1.
    try {
      return c.run(argc - 1, argv + 1);
    } catch (const std::bad_alloc&) {
      std::fprintf(stderr, "squeeze-compress: error: out of memory (a limit, or the input is "
                           "too large for this machine)\n");
    } catch (const std::exception& e) {
      std::fprintf(stderr, "squeeze-compress: error: %s\n", e.what());
    }
    return sqz::cli::kExitFailure;
  }
  std::fprintf(stderr, "squeeze-compress: unknown command '%s' (see 'squeeze-compress --help')\n",
               name.c_str());
  return sqz::cli::kExitUsage;
}
