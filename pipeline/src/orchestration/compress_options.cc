// compress's options: validation, parsing, and the settings line each file records.
#include "compress_options.h"

#include <cmath>
#include <cstdio>
#include <sstream>

namespace sqz::pipeline {
namespace detail {

int calibration_steps(const CompressOptions& s, const ImageLists& lists) {
  const bool sequential =
      s.sequential && s.error_compensation && !lists.calib.empty() && !s.training();
  return sequential && !s.calibrate_after_sequential ? 0 : s.calibration.steps;
}

std::string pipeline_summary(const CompressOptions& s, const ImageLists& lists) {
  const int steps = calibration_steps(s, lists);
  char b[512];
  std::snprintf(
      b, sizeof b,
      "compress density=%g bits=%d target_bytes=%lld init=%s calib_images=%zu "
      "calib_steps=%d batch=%d lr=%g T=%g augment=%d seed=%llu%s",
      s.pruning.density, s.quantize.bits, static_cast<long long>(s.target_bytes),
      init_name(s.quantize).c_str(), lists.calib.size(), steps, s.calibration.batch,
      s.calibration.learning_rate, s.calibration.temperature, s.calibration.augment,
      static_cast<unsigned long long>(s.seed),
      // Recorded when the codes were compensated (nearest codes: as before it existed).
      !s.error_compensation || lists.calib.empty() || s.training() ? ""
      : s.sequential                                               ? " codes=sequential"
                                                                   : " codes=compensated");
  std::string out = b;
  const bool calibrated = !lists.calib.empty() && !s.training();
  char more[256];
  if (s.quantize.method == quantize::Method::kUniform) out += " method=uniform";
  if (s.target_bytes > 0 && s.half_widths) out += " half_widths=on";
  if (calibrated && s.error_compensation && s.refit_codebook) out += " refit=on";
  if (calibrated && s.error_compensation && s.gptq.rate_weight > 0) {
    std::snprintf(more, sizeof more, " rate_weight=%g", s.gptq.rate_weight);
    out += more;
  }
  if (calibrated && s.error_compensation && s.gptq.descent_passes > 0) {
    std::snprintf(more, sizeof more, " descent=%d", s.gptq.descent_passes);
    out += more;
  }
  if (calibrated && s.error_compensation && s.gptq.pair_passes > 0) {
    std::snprintf(more, sizeof more, " pairs=%d", s.gptq.pair_passes);
    out += more;
  }
  if (calibrated && s.error_compensation && s.sequential && steps == 0 && s.blocks.steps > 0) {
    std::snprintf(more, sizeof more, " blocks=%d block_lr=%g block_images=%lld", s.blocks.steps,
                  s.blocks.learning_rate, static_cast<long long>(s.blocks.images));
    out += more;
  }
  if (calibrated && steps > 0) {  // the share held aside to choose the state
    std::snprintf(more, sizeof more, " validation=%g", s.calibration.validation_share);
    out += more;
  }
  if (!s.training()) return out;
  const RetrainSchedule& t = s.retrain;
  std::snprintf(
      more, sizeof more, " train=%s schedule=%s steps=%dx%d lr=%g finetune=%d@%g label_weight=%g",
      s.train_tensors ? "tensors" : "images", t.gradual ? "gradual" : "steps", t.prune_steps,
      t.retrain_steps, t.learning_rate, t.finetune_steps, t.finetune_lr, t.label_weight);
  return out + more;
}

}  // namespace detail

std::string init_name(const quantize::QuantizeOptions& q) {
  if (q.exact) return "exact";
  return q.init == quantize::Init::kKmeansPlusPlus ? "kmeans++" : "linear";
}

Result<std::vector<int>> parse_widths(const std::string& text) {
  std::vector<int> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    char* end = nullptr;
    const long b = std::strtol(item.c_str(), &end, 10);
    if (item.empty() || *end || b < 1 || b > 8 || (!out.empty() && b <= out.back()))
      return Status(ErrorCode::kInvalidArgument,
                    "`widths` wants ascending bit widths in 1..8, e.g. 4,5,6,7,8");
    out.push_back(static_cast<int>(b));
  }
  return out;
}

Status check_compress_options(const CompressOptions& s) {
  SQZ_RETURN_ERROR_IF(s.threads < 1, ErrorCode::kInvalidArgument, "`threads` must be at least 1");
  SQZ_RETURN_ERROR_IF(s.quantize.bits < 1 || s.quantize.bits > 8, ErrorCode::kInvalidArgument,
                      "`bits` must be in 1..8");
  bool ascending = !s.widths.empty();
  for (size_t i = 0; i < s.widths.size(); ++i)
    ascending &= s.widths[i] >= 1 && s.widths[i] <= 8 && (i == 0 || s.widths[i] > s.widths[i - 1]);
  SQZ_RETURN_ERROR_IF(!ascending, ErrorCode::kInvalidArgument,
                      "`widths` wants ascending bit widths in 1..8, e.g. 4,5,6,7,8");
  // Half widths are steps of the width search; without a target there is no search.
  SQZ_RETURN_ERROR_IF(s.half_widths && s.target_bytes <= 0, ErrorCode::kInvalidArgument,
                      "`half_widths` needs `target_bytes`");
  const std::string split =
      s.calib_fold && s.calib_fold->held_out ? "`holdout_split`" : "`calib_split`";
  SQZ_RETURN_ERROR_IF(s.calib_fold && s.calib_dir.empty(), ErrorCode::kInvalidArgument,
                      split + " needs `calib`");
  SQZ_RETURN_ERROR_IF(
      s.calib_fold && (s.calib_fold->index < 1 || s.calib_fold->index > s.calib_fold->count),
      ErrorCode::kInvalidArgument, split + " wants K/N with 1 <= K <= N");
  SQZ_RETURN_ERROR_IF(s.probe_images < 1, ErrorCode::kInvalidArgument,
                      "`probe_images` must be at least 1");
  SQZ_RETURN_ERROR_IF(s.moment_images < 1, ErrorCode::kInvalidArgument,
                      "`moment_images` must be at least 1");
  SQZ_RETURN_ERROR_IF(!(s.gptq.damping >= 0) || !std::isfinite(s.gptq.damping),
                      ErrorCode::kInvalidArgument, "the damping must be finite and >= 0");
  SQZ_RETURN_ERROR_IF(!(s.gptq.rate_weight >= 0 && s.gptq.rate_weight <= 100),
                      ErrorCode::kInvalidArgument, "`rate_weight` must be in 0..100");
  SQZ_RETURN_ERROR_IF(s.gptq.descent_passes < 0 || s.gptq.descent_passes > 100,
                      ErrorCode::kInvalidArgument, "`descent_passes` must be in 0..100");
  SQZ_RETURN_ERROR_IF(s.gptq.pair_passes < 0 || s.gptq.pair_passes > 100,
                      ErrorCode::kInvalidArgument, "`pair_passes` must be in 0..100");
  SQZ_RETURN_ERROR_IF(s.blocks.steps < 0 || s.blocks.steps > 100000,
                      ErrorCode::kInvalidArgument, "`block_steps` must be in 0..100000");
  SQZ_RETURN_ERROR_IF(s.blocks.batch < 1 || s.blocks.batch > 1024, ErrorCode::kInvalidArgument,
                      "`block_batch` must be in 1..1024");
  SQZ_RETURN_ERROR_IF(!(s.blocks.learning_rate > 0 && s.blocks.learning_rate <= 1),
                      ErrorCode::kInvalidArgument, "`block_lr` must be in (0, 1]");
  SQZ_RETURN_ERROR_IF(s.blocks.images < 1 || s.blocks.images > 1000000,
                      ErrorCode::kInvalidArgument, "`block_images` must be in 1..1000000");
  return Status::ok();
}

namespace {

bool pruning_asked(const CompressOptions& s) {
  return s.pruning.density > 0 || !s.pruning.layer_density.empty();
}

// An option that means something only where `met` holds; `needs` names what it needs.
struct Dependency {
  std::vector<const char*> options;
  const char* needs;
  bool (*met)(const CompressOptions&);
};

const std::vector<Dependency>& dependencies() {
  static const std::vector<Dependency> table = {
      // 0 is these options' "off" (their defaults); given as 0, the user meant something.
      {{"density"},
       "a fraction above 0",
       [](const CompressOptions& s) { return s.pruning.density > 0; }},
      {{"target_bytes"},
       "a size above 0",
       [](const CompressOptions& s) { return s.target_bytes > 0; }},
      {{"widths", "probe_images"},
       "`target_bytes`",
       [](const CompressOptions& s) { return s.target_bytes > 0; }},
      {{"block_images", "block_lr"},
       "`block_steps`",
       [](const CompressOptions& s) { return s.blocks.steps > 0; }},
      {{"calib_steps", "calib_batch", "calib_lr", "temperature", "calib_validation", "augment",
        "no_augment", "moment_images", "rate_weight", "code_descent", "code_pairs",
        "codebook_refit", "block_steps"},
       "`calib` images",
       [](const CompressOptions& s) { return !s.calib_dir.empty(); }},
      {{"train_label_file", "schedule", "prune_steps", "train_steps", "train_lr", "finetune_steps",
        "finetune_lr", "quantize_at_once", "label_weight", "train_temperature", "dropout",
        "train_batch", "mirror", "no_mirror"},
       "`train` images",
       [](const CompressOptions& s) { return s.training(); }},
      // Nearest codes are what a run without calibration images writes anyway.
      {{"codes"},
       "`calib` images",
       [](const CompressOptions& s) { return !s.calib_dir.empty() || !s.error_compensation; }},
      {{"granularity"},
       "pruning (`density` or `layer_density`)",
       [](const CompressOptions& s) { return pruning_asked(s) || s.training(); }},
      {{"init"},
       "`method` kmeans",
       [](const CompressOptions& s) { return s.quantize.method == quantize::Method::kKmeans; }},
      {{"labels"},
       "`calib`, `holdout` or `train` images",
       [](const CompressOptions& s) {
         return !s.calib_dir.empty() || !s.holdout_dir.empty() || s.training();
       }},
      {{"retrain_steps"},
       "pruning (`density` or `layer_density`) and `calib` images",
       [](const CompressOptions& s) { return pruning_asked(s) && !s.calib_dir.empty(); }},
  };
  return table;
}

}  // namespace

Status check_option_dependencies(const CompressOptions& s, const std::vector<std::string>& given) {
  for (const std::string& name : given)
    for (const Dependency& d : dependencies())
      for (const char* option : d.options)
        SQZ_RETURN_ERROR_IF(name == option && !d.met(s), ErrorCode::kInvalidArgument,
                            "`" + name + "` needs " + d.needs + " (it would be ignored)");
  return Status::ok();
}

}  // namespace sqz::pipeline
