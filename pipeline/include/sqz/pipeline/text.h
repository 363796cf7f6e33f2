// Text helpers shared by the reports and the CLI.
#pragma once

#include <string>

namespace sqz::pipeline {

// A JSON string literal: quotes and backslashes escaped, control characters as \u00XX, other
// bytes as they are.
std::string json_quote(const std::string& s);

}  // namespace sqz::pipeline
