#include "sqz/pipeline/paired_activations.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <set>

#include <unistd.h>

#include "paired_moments.h"
#include "sqz/runtime/net.h"

namespace sqz::pipeline {

// One sweep: a blob is live from the layer after the one that made it to its last reader.
std::vector<std::string> single_live_blobs(const Model& m) {
  const int64_t count = static_cast<int64_t>(m.layers.size());
  std::map<std::string, int64_t> last_read;
  for (int64_t j = 0; j < count; ++j)
    for (const std::string& in : m.layers[j].inputs) last_read[in] = j;
  last_read[m.output] = count;
  std::vector<std::string> out(m.layers.size());
  std::set<std::string> live;
  for (int64_t i = 0; i < count; ++i) {
    const std::string& made = i == 0 ? m.input : m.layers[i - 1].output;
    auto read = last_read.find(made);
    if (read != last_read.end() && read->second >= i) live.insert(made);
    if (i > 0)  // blobs last read by layer i - 1 are dead from here
      for (const std::string& in : m.layers[i - 1].inputs)
        if (last_read.at(in) == i - 1) live.erase(in);
    if (live.size() == 1) out[i] = *live.begin();
  }
  return out;
}

int64_t default_activation_budget() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page <= 0) return int64_t{1} << 30;
  return std::min<int64_t>(int64_t{2} << 30, int64_t{pages} * page / 8);
}

PairedActivations::PairedActivations(const Model& reference, const float* inputs, int64_t n,
                                     const MomentOptions& options, int64_t max_bytes)
    : graph_(reference), inputs_(inputs), n_(n), options_(options), max_bytes_(max_bytes) {
  Result<std::map<std::string, Shape>> shapes = validate_and_infer(graph_, 1);
  if (!shapes.is_ok()) {
    init_ = shapes.status();
    return;
  }
  shapes_ = std::move(shapes).value();
  live_ = single_live_blobs(graph_);
  int64_t item = 0;
  for (int64_t i = 0; i < n; i += detail::kMomentBatch) {
    const int64_t count = std::min(detail::kMomentBatch, n - i);
    runs_.push_back({item, count, i, false});
    item += count;
    if (!options.mirror) continue;
    runs_.push_back({item, count, i, true});
    item += count;
  }
  items_ = item;
}

int64_t PairedActivations::bytes() const {
  return static_cast<int64_t>((own_.size() + ref_.size()) * sizeof(float));
}

std::string PairedActivations::blob_at(int64_t cut) const {
  if (cut <= 0) return graph_.input;
  const auto layers = static_cast<int64_t>(live_.size());
  return cut >= layers ? graph_.output : live_[static_cast<size_t>(cut)];
}

Shape PairedActivations::chw_at(int64_t cut) const {
  const Shape& s = cut == 0 ? graph_.input_shape : shapes_.at(blob_at(cut));
  return Shape(s.begin() + 1, s.end());
}

Status PairedActivations::advance(const Model& model, int64_t cut) {
  SQZ_RETURN_IF_ERROR(init_);
  SQZ_RETURN_ERROR_IF(!same_graph(model), ErrorCode::kInvalidArgument,
                      "the kept activations belong to another graph");
  SQZ_RETURN_ERROR_IF(cut < at_ || cut >= static_cast<int64_t>(live_.size()) ||
                          blob_at(cut).empty(),
                      ErrorCode::kInvalidArgument,
                      "layer " + std::to_string(cut) + " is not a cut after the kept one");
  if (cut == at_) return Status::ok();
  const int64_t needed = 2 * items_ * shape_numel(chw_at(cut)) * int64_t{sizeof(float)};
  SQZ_RETURN_ERROR_IF(needed + bytes() > max_bytes_, ErrorCode::kLimit,
                      "the activations before layer '" + graph_.layers[cut].name + "' need " +
                          std::to_string((needed + bytes()) >> 20) + " MiB, more than " +
                          std::to_string(max_bytes_ >> 20));
  return move_to(model, cut);
}

Status PairedActivations::gather(const std::vector<int64_t>& items, std::vector<float>* own,
                                 std::vector<float>* reference) {
  SQZ_RETURN_IF_ERROR(init_);
  const Shape chw = chw_at(at_);
  const int64_t size = shape_numel(chw);
  own->resize(items.size() * static_cast<size_t>(size));
  reference->resize(own->size());
  for (size_t k = 0; k < items.size(); ++k) {
    const int64_t item = items[k];
    SQZ_RETURN_ERROR_IF(item < 0 || item >= items_, ErrorCode::kInvalidArgument,
                        "item " + std::to_string(item) + " is not kept");
    const float *o = nullptr, *f = nullptr;
    if (at_ > 0) {
      o = own_.data() + item * size;
      f = ref_.data() + item * size;
    } else {  // the images themselves, mirrored for the items that are
      const Run& r = *std::find_if(runs_.begin(), runs_.end(), [&](const Run& run) {
        return item >= run.item && item < run.item + run.count;
      });
      o = inputs_ + (r.image + item - r.item) * size;
      if (r.mirrored) o = detail::mirror_images(o, 1, chw, &mirrored_);
      f = o;
    }
    std::copy(o, o + size, own->begin() + static_cast<int64_t>(k) * size);
    std::copy(f, f + size, reference->begin() + static_cast<int64_t>(k) * size);
  }
  return Status::ok();
}

bool PairedActivations::same_graph(const Model& m) const {
  if (m.input != graph_.input || m.layers.size() != graph_.layers.size()) return false;
  for (size_t i = 0; i < m.layers.size(); ++i) {
    const Layer &a = m.layers[i], &b = graph_.layers[i];
    if (a.name != b.name || a.op != b.op || a.inputs != b.inputs || a.output != b.output)
      return false;
  }
  return true;
}

Model PairedActivations::slice(const Model& m, int64_t begin, int64_t end,
                               const std::string& output) const {
  Model s;
  s.name = m.name;
  s.input = begin == 0 ? m.input : live_[begin];
  s.input_shape = Shape{1};
  const Shape chw = chw_at(begin);
  s.input_shape.insert(s.input_shape.end(), chw.begin(), chw.end());
  s.layers.assign(m.layers.begin() + begin, m.layers.begin() + end);
  s.output = output;
  return s;
}

Status PairedActivations::for_each_run(const std::function<Status(int64_t)>& progress,
                                       const RunFn& run) {
  const Shape chw = chw_at(at_);
  const int64_t size = shape_numel(chw);
  for (const Run& r : runs_) {
    const float *own = nullptr, *ref = nullptr;
    if (at_ == 0) {
      own = inputs_ + r.image * size;
      if (r.mirrored) own = detail::mirror_images(own, r.count, chw, &mirrored_);
      ref = own;
    } else {
      own = own_.data() + r.item * size;
      ref = ref_.data() + r.item * size;
    }
    SQZ_RETURN_IF_ERROR(run(r, own, ref));
    if (progress && (r.mirrored || !options_.mirror))
      SQZ_RETURN_IF_ERROR(progress(r.image + r.count));
  }
  return Status::ok();
}

// Both networks from the cut at_ to `cut`, every item: the activations there replace the kept
// ones.
Status PairedActivations::move_to(const Model& model, int64_t cut) {
  const std::string& blob = live_[cut];
  runtime::NetOptions no;
  no.threads = options_.threads;
  no.policy = runtime::KernelPolicy::kDense;  // as the collections run
  SQZ_ASSIGN_OR_RETURN(auto own_net, runtime::Net::create(slice(model, at_, cut, blob), no));
  SQZ_ASSIGN_OR_RETURN(auto ref_net, runtime::Net::create(slice(graph_, at_, cut, blob), no));
  const int64_t size = shape_numel(chw_at(cut));
  std::vector<float> own(static_cast<size_t>(items_ * size)), ref(own.size()), out;
  SQZ_RETURN_IF_ERROR(for_each_run(nullptr, [&](const Run& r, const float* o, const float* f) {
    SQZ_RETURN_IF_ERROR(own_net->forward(o, r.count, &out));
    std::memcpy(own.data() + r.item * size, out.data(), sizeof(float) * r.count * size);
    SQZ_RETURN_IF_ERROR(ref_net->forward(f, r.count, &out));
    std::memcpy(ref.data() + r.item * size, out.data(), sizeof(float) * r.count * size);
    return Status::ok();
  }));
  own_ = std::move(own), ref_ = std::move(ref);
  at_ = cut;
  return Status::ok();
}

Result<PairedMoments> PairedActivations::collect(const Model& model,
                                                 const std::set<std::string>& layers,
                                                 const std::function<Status(int64_t)>& progress) {
  SQZ_RETURN_IF_ERROR(init_);
  Model own = model;
  SQZ_RETURN_IF_ERROR(validate_and_infer(own, 1).status());
  int64_t first = -1;
  for (size_t i = 0; i < own.layers.size() && first < 0; ++i)
    if (layers.count(own.layers[i].name)) first = static_cast<int64_t>(i);
  if (!same_graph(own) || first < 0)  // collect_paired_moments says what is wrong
    return collect_paired_moments(model, graph_, layers, inputs_, n_, options_, progress);
  // The latest cut at or before the first layer whose activations fit beside the kept ones.
  for (int64_t cut = first; cut > at_; --cut) {
    if (live_[cut].empty()) continue;
    const int64_t needed = 2 * items_ * shape_numel(chw_at(cut)) * int64_t{sizeof(float)};
    if (needed + bytes() > max_bytes_) continue;
    SQZ_RETURN_IF_ERROR(move_to(own, cut));
    break;
  }
  const int64_t end = static_cast<int64_t>(own.layers.size());
  return detail::collect_paired(
      slice(own, at_, end, own.output), slice(graph_, at_, end, graph_.output), layers, options_,
      [&](const detail::PairedRun& run) {
        return for_each_run(progress, [&](const Run& r, const float* o, const float* f) {
          return run(o, f, r.count);
        });
      });
}

}  // namespace sqz::pipeline
