// Image streams (NetOptions::image_streams): a batch's images split among the threads, each
// thread running its own images through the whole network on a copy of the plan that shares
// the ops and owns its activations, on a pool of one thread. Two 1-thread processes side by
// side on the Xeon of session 45 ran batch 8 at 225 images/s together, one 2-thread process
// at 186-200 (docs/performance-log.md).
#include <algorithm>

#include "net_impl.h"

namespace sqz::runtime {

int Net::Impl::stream_count(int64_t batch) const {
  if (!options.image_streams || conv_input_hook || pool->threads() < 2 || batch < 2) return 0;
  const int count = static_cast<int>(std::min<int64_t>(pool->threads(), batch));
  // Every stream's activations for one pass, within the budget a batch's may take.
  const double one_image = static_cast<double>(arena_bytes_one_image);
  const double passes = static_cast<double>(images_per_pass_on(1));
  return count * one_image * passes <= static_cast<double>(options.max_activation_bytes) ? count
                                                                                         : 0;
}

Status Net::Impl::make_streams(int count) {
  while (static_cast<int>(streams.size()) < count) {
    auto s = std::make_shared<Impl>(*this);
    s->streams.clear();
    s->conv_input_hook = nullptr;  // a hook runs streams off (stream_count)
    for (LayerProfile& p : s->profiles) p.seconds = 0;
    SQZ_ASSIGN_OR_RETURN(s->pool, ThreadPool::create(1));
    s->pass_images = images_per_pass_on(1);
    SQZ_RETURN_IF_ERROR(s->plan_memory(s->pass_images));
    s->batch = s->pass_images;
    streams.push_back(std::move(s));
  }
  return Status::ok();
}

Status Net::Impl::run_streams(const float* input, int64_t batch, int count, float* output) {
  SQZ_RETURN_IF_ERROR(make_streams(count));
  const int64_t in_size = per_image(shapes.at(model.input));
  const int64_t n = per_image(shapes.at(model.output));
  pool->parallel_for(count, [&](int64_t begin, int64_t end, int) {
    for (int64_t k = begin; k < end; ++k) {
      Impl& s = *streams[static_cast<size_t>(k)];
      s.profiling = profiling;
      const int64_t first = batch * k / count, last = batch * (k + 1) / count;
      for (int64_t i = first; i < last; i += s.batch)
        s.run_pass(input + i * in_size, std::min(s.batch, last - i), output + i * n);
    }
  });
  return Status::ok();
}

}  // namespace sqz::runtime
