// One stage row as JSON, for the report's own JSON renderings. Internal: nlohmann stays out of
// the public headers.
#pragma once

#include <nlohmann/json.hpp>

#include "sqz/report/stage_table.h"

namespace sqz::report {

// Ratios against first_bytes and AlexNet; null where not measured.
nlohmann::json stage_row_json(const StageRow& row, int64_t first_bytes);

}  // namespace sqz::report
