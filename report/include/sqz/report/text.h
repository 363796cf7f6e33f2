// Text helpers shared by the reports and the CLI.
#pragma once

#include <string>

namespace sqz::report {

// A JSON string literal that is always valid JSON: quotes and backslashes escaped, control
// characters as \u00XX, bytes that are not UTF-8 as U+FFFD, the rest as they are.
std::string json_quote(const std::string& s);

// Text safe to print on a terminal: control characters (escape sequences, newlines) and bytes
// that are not UTF-8 become \xNN; valid UTF-8 stays as it is.
std::string printable(const std::string& s);

}  // namespace sqz::report
