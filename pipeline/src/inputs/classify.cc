#include "sqz/pipeline/classify.h"

#include <algorithm>
#include <atomic>
#include <optional>
#include <system_error>
#include <thread>

#include "sqz/runtime/thread_pool.h"

namespace sqz::pipeline {

Result<std::vector<float>> load_input(const std::string& path, const image::Preprocess& p) {
  SQZ_ASSIGN_OR_RETURN(image::Image img, image::decode_image_file(path, p.decode));
  auto input = image::preprocess(img, p);
  if (!input.is_ok()) return input.status().with_context(path);
  return input;
}

LoadedInputs load_inputs(const std::vector<std::string>& paths, size_t begin, size_t end,
                         const image::Preprocess& p, int threads) {
  end = std::min(end, paths.size());
  const size_t n = end > begin ? end - begin : 0;
  std::vector<std::optional<Result<std::vector<float>>>> slots(n);
  std::vector<std::exception_ptr> thrown(n);  // escaping a helper thread it would end the process
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i; (i = next.fetch_add(1)) < n;) {
      try {
        slots[i].emplace(load_input(paths[begin + i], p));
      } catch (...) {
        thrown[i] = std::current_exception();
      }
    }
  };
  // No more at once than the CPUs the process may use: each holds a decoded photo.
  const auto most = static_cast<size_t>(std::clamp(threads, 1, runtime::usable_cpus()));
  std::vector<std::thread> helpers;
  for (size_t t = 1; t < std::min(most, n); ++t) {
    try {
      helpers.emplace_back(work);
    } catch (const std::system_error&) {
      break;  // the threads started, and the caller, take the rest
    }
  }
  work();
  for (std::thread& h : helpers) h.join();
  LoadedInputs out;
  out.results.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    if (thrown[i]) {
      out.thrown = thrown[i];
      break;
    }
    out.results.push_back(std::move(*slots[i]));
  }
  return out;
}

}  // namespace sqz::pipeline
