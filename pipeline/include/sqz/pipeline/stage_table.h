// The paper-style table shared by compress and report: per stage its bytes, the ratio to the
// input model and to AlexNet, and accuracy on held-out images.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace sqz::pipeline {

// AlexNet's 240 MB (Han et al. 2016, Table 1 and Sec. 1): the unit of the paper's "510x".
constexpr int64_t kAlexNetBytes = 240'000'000;

struct StageRow {
  std::string stage;
  int64_t bytes = 0;
  std::string how;              // how the stage stores its weights
  double top1 = -1, top5 = -1;  // fractions; -1: not measured
  double agreement = -1;        // top-1 agreement with the first row's model
  double mean_kl = -1;          // nats, vs the first row's model
};

// One row as JSON; ratios against first_bytes and AlexNet, null where not measured.
nlohmann::json stage_row_json(const StageRow& row, int64_t first_bytes);

// Aligned text, Markdown, or JSON (one object with "images" and "stages").
std::string stage_table_text(const std::vector<StageRow>& rows, int64_t images);
nlohmann::json stage_table_object(const std::vector<StageRow>& rows, int64_t images);
std::string stage_table_markdown(const std::vector<StageRow>& rows, int64_t images);

}  // namespace sqz::pipeline
