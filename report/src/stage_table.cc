#include "sqz/report/stage_table.h"

#include <cstdio>

#include "stage_row_json.h"

namespace sqz::report {
namespace {

std::string percent(double f) {
  if (f < 0) return "-";
  char b[32];
  std::snprintf(b, sizeof b, "%.2f%%", 100 * f);
  return b;
}

std::string ratio(int64_t num, int64_t den) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1fx", static_cast<double>(num) / static_cast<double>(den));
  return b;
}

std::string kl_text(double kl) {
  if (kl < 0) return "-";
  char b[32];
  std::snprintf(b, sizeof b, "%.4f", kl);
  return b;
}

}  // namespace

std::string stage_table_text(const std::vector<StageRow>& rows, int64_t images) {
  std::string out;
  char line[512];
  std::snprintf(line, sizeof line, "%-30s %11s %9s %10s %8s %8s %9s %8s\n", "stage", "bytes",
                "vs input", "vs AlexNet", "top-1", "top-5", "agreement", "KL");
  out += line;
  for (const StageRow& r : rows) {
    std::snprintf(line, sizeof line, "%-30s %11lld %9s %10s %8s %8s %9s %8s\n", r.stage.c_str(),
                  static_cast<long long>(r.bytes), ratio(rows[0].bytes, r.bytes).c_str(),
                  ratio(kAlexNetBytes, r.bytes).c_str(), percent(r.top1).c_str(),
                  percent(r.top5).c_str(), percent(r.agreement).c_str(),
                  kl_text(r.mean_kl).c_str());
    out += line;
  }
  if (images > 0)
    out += "accuracy on " + std::to_string(images) +
           " held-out images; agreement and KL against the first row's model\n";
  return out;
}

std::string stage_table_markdown(const std::vector<StageRow>& rows, int64_t images) {
  std::string out =
      "| stage | bytes | vs input | vs AlexNet (240 MB) | top-1 | top-5 | agreement | KL | "
      "stored as |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n";
  for (const StageRow& r : rows)
    out += "| " + r.stage + " | " + std::to_string(r.bytes) + " | " +
           ratio(rows[0].bytes, r.bytes) + " | " + ratio(kAlexNetBytes, r.bytes) + " | " +
           percent(r.top1) + " | " + percent(r.top5) + " | " + percent(r.agreement) + " | " +
           kl_text(r.mean_kl) + " | " + r.how + " |\n";
  if (images > 0) out += "\nAccuracy on " + std::to_string(images) + " held-out images.\n";
  return out;
}

nlohmann::json stage_row_json(const StageRow& r, int64_t first_bytes) {
  auto opt = [](double v) { return v < 0 ? nlohmann::json() : nlohmann::json(v); };
  return {{"stage", r.stage},
          {"bytes", r.bytes},
          {"how", r.how},
          {"ratio_vs_input", double(first_bytes) / double(r.bytes)},
          {"ratio_vs_alexnet", double(kAlexNetBytes) / double(r.bytes)},
          {"top1", opt(r.top1)},
          {"top5", opt(r.top5)},
          {"agreement", opt(r.agreement)},
          {"mean_kl", opt(r.mean_kl)}};
}

std::string stage_table_json(const std::vector<StageRow>& rows, int64_t images,
                             const std::vector<std::pair<std::string, std::string>>& extra) {
  nlohmann::json j = {{"images", images}, {"alexnet_bytes", kAlexNetBytes}};
  j["stages"] = nlohmann::json::array();
  for (const StageRow& r : rows) j["stages"].push_back(stage_row_json(r, rows[0].bytes));
  for (const auto& [name, text] : extra) {
    nlohmann::json value = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    j[name] = value.is_discarded() ? nlohmann::json() : std::move(value);
  }
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace sqz::report
