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

std::vector<Result<std::vector<float>>> load_inputs(const std::vector<std::string>& paths,
                                                    size_t begin, size_t end,
                                                    const image::Preprocess& p, int threads) {
  end = std::min(end, paths.size());
  const size_t n = end > begin ? end - begin : 0;
  std::vector<std::optional<Result<std::vector<float>>>> slots(n);
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i; (i = next.fetch_add(1)) < n;) slots[i].emplace(load_input(paths[begin + i], p));
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
  std::vector<Result<std::vector<float>>> out;
  out.reserve(n);
  for (auto& slot : slots) out.push_back(std::move(*slot));
  return out;
}

}  // namespace sqz::pipeline
