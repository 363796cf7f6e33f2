// Errors as values at every library boundary (cf. leveldb Status, abseil StatusOr).
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace sqz {

// Stable, append-only error numbering: never renumber or reuse a retired value.
enum class ErrorCode : int {
  kOk = 0,
  kIo = 1,               // a file could not be opened, read or written
  kParse = 2,            // text or binary that does not follow its grammar
  kCorrupt = 3,          // structurally valid container with inconsistent content
  kUnsupported = 4,      // a valid construct this tool does not implement
  kInvalidArgument = 5,  // a caller- or user-supplied setting is out of range
  kShapeMismatch = 6,    // tensor or graph shapes that do not agree
  kNotFound = 7,         // a named thing (layer, blob, file) does not exist
  kLimit = 8,            // a size beyond the documented limits
  kInterrupted = 9,      // stopped by a signal or by the caller
  kConflict = 10,        // options that disagree with what a file records
};

const char* error_code_name(ErrorCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}
  static Status ok() { return Status(); }

  bool is_ok() const { return code_ == ErrorCode::kOk; }
  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // Prefixes context such as a file name: "model.onnx: <message>".
  Status with_context(const std::string& context) const;

 private:
  ErrorCode code_ = ErrorCode::kOk;
  std::string message_;
};

// Messages name an option in backticks by the name the front ends take it by, in the
// library's own words: "`target_bytes` needs `calib` images". A front end spells each in its
// own way (the CLI as a long option, Python as the keyword); spell maps a name to its spelling.
// Only backticked runs of [a-z0-9_] are options; anything else is left as it is.
std::string spell_option_names(const std::string& message,
                               std::string (*spell)(const std::string& name));

// Either a value or a non-ok Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}         // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {}  // NOLINT(google-explicit-constructor)

  bool is_ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOkStatus;
    return is_ok() ? kOkStatus : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace sqz

#define SQZ_CONCAT_INNER(a, b) a##b
#define SQZ_CONCAT(a, b) SQZ_CONCAT_INNER(a, b)

// Returns a Status built from (code, message) when cond holds.
#define SQZ_RETURN_ERROR_IF(cond, code, message)       \
  do {                                                 \
    if (cond) return ::sqz::Status((code), (message)); \
  } while (0)

#define SQZ_RETURN_IF_ERROR(expr)                 \
  do {                                            \
    ::sqz::Status sqz_status_ = (expr);           \
    if (!sqz_status_.is_ok()) return sqz_status_; \
  } while (0)

#define SQZ_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  if (!tmp.is_ok()) return tmp.status();          \
  lhs = std::move(tmp).value()

// lhs = value of a Result-returning expr, or return its error.
#define SQZ_ASSIGN_OR_RETURN(lhs, expr) \
  SQZ_ASSIGN_OR_RETURN_IMPL(SQZ_CONCAT(sqz_result_, __LINE__), lhs, expr)
