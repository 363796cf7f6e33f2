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

}  // namespace sqz
