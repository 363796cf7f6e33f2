// The paper-style table shared by compress and report: per stage its bytes, the ratio to the
// input model and to AlexNet, and accuracy on held-out images.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace sqz::report {

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

// Aligned text, or Markdown.
std::string stage_table_text(const std::vector<StageRow>& rows, int64_t images);
std::string stage_table_markdown(const std::vector<StageRow>& rows, int64_t images);

// The table as one JSON object, indented by 2 with its keys sorted: "images", "alexnet_bytes",
// "stages" (per row its bytes, ratios to the first row and to AlexNet, and accuracy, null where
// not measured), and `extra` members beside them as (name, JSON text), e.g. {"output",
// "\"out.sqz\""}; an extra that is not JSON becomes null.
std::string stage_table_json(const std::vector<StageRow>& rows, int64_t images,
                             const std::vector<std::pair<std::string, std::string>>& extra = {});

}  // namespace sqz::report
