#include "sqz/core/status.h"

namespace sqz {

const char* error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk:
      return "ok";
    case ErrorCode::kIo:
      return "I/O error";
    case ErrorCode::kParse:
      return "parse error";
    case ErrorCode::kCorrupt:
      return "corrupt data";
    case ErrorCode::kUnsupported:
      return "unsupported";
    case ErrorCode::kInvalidArgument:
      return "invalid argument";
    case ErrorCode::kShapeMismatch:
      return "shape mismatch";
    case ErrorCode::kNotFound:
      return "not found";
    case ErrorCode::kLimit:
      return "limit exceeded";
    case ErrorCode::kInterrupted:
      return "interrupted";
    case ErrorCode::kConflict:
      return "conflict";
  }
  return "unknown error";
}

Status Status::with_context(const std::string& context) const {
  if (is_ok()) return *this;
  return Status(code_, context + ": " + message_);
}

std::string spell_option_names(const std::string& message,
                               std::string (*spell)(const std::string& name)) {
  static constexpr const char* kOptionChars = "abcdefghijklmnopqrstuvwxyz0123456789_";
  std::string out;
  size_t i = 0;
  while (i < message.size()) {
    const size_t open = message.find('`', i);
    const size_t close = open == std::string::npos ? open : message.find('`', open + 1);
    if (close == std::string::npos) break;
    const std::string name = message.substr(open + 1, close - open - 1);
    out += message.substr(i, open - i);
    if (name.empty() || name.find_first_not_of(kOptionChars) != std::string::npos) {
      out += '`';  // not an option: the backtick stays, the next one may open a name
      i = open + 1;
      continue;
    }
    out += spell(name);
    i = close + 1;
  }
  return out + message.substr(i);
}

}  // namespace sqz
