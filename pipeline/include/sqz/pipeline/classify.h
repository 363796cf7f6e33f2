// Image classification helpers shared by run and eval.
#pragma once

#include <exception>
#include <string>
#include <utility>
#include <vector>

#include "sqz/core/status.h"
#include "sqz/image/image.h"
#include "sqz/pipeline/preprocessing.h"
#include "sqz/runtime/classifier.h"
#include "sqz/runtime/net.h"

namespace sqz::pipeline {

// Decodes and preprocesses one image into CHW floats.
Result<std::vector<float>> load_input(const std::string& path, const image::Preprocess& p);

// load_input of paths[begin, end) on up to `threads` threads, the caller's among them (at most
// runtime::usable_cpus(), fewer when the system starts no more): each result as load_input
// gives it, in order. Decoding a photo takes about half as long as a forward pass of it on one
// thread, so a caller that ran the network on every thread but decoded on one spent a third of
// its time there. What a decoder throws (std::bad_alloc under a memory limit) stops the list
// before that image and is handed back in `thrown`: a caller uses the results, then rethrows
// it, as if it had decoded them one at a time.
struct LoadedInputs {
  std::vector<Result<std::vector<float>>> results;
  std::exception_ptr thrown;
};
LoadedInputs load_inputs(const std::vector<std::string>& paths, size_t begin, size_t end,
                         const image::Preprocess& p, int threads);

// Indices of the k largest scores, largest first (sqz/runtime/classifier.h).
using runtime::top_k;

}  // namespace sqz::pipeline
