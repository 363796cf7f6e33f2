#include "errors.h"

#include "sqz/kernels/machine.h"

namespace sqz::python {
namespace {

py::object& error_class() {
  // Leaked on purpose: destroying a Python object after the interpreter is gone would crash.
  static py::object* cls = new py::object();
  return *cls;
}

// Stable identifiers for Error.code (the library's ErrorCode).
const char* code_id(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk: return "ok";
    case ErrorCode::kIo: return "io";
    case ErrorCode::kParse: return "parse";
    case ErrorCode::kCorrupt: return "corrupt";
    case ErrorCode::kUnsupported: return "unsupported";
    case ErrorCode::kInvalidArgument: return "invalid_argument";
    case ErrorCode::kShapeMismatch: return "shape_mismatch";
    case ErrorCode::kNotFound: return "not_found";
    case ErrorCode::kLimit: return "limit";
    case ErrorCode::kInterrupted: return "interrupted";
    case ErrorCode::kConflict: return "conflict";
  }
  return "unknown";
}

}  // namespace

std::string keyword_words(const std::string& message) {
  return spell_option_names(message, [](const std::string& name) { return name; });
}

void set_error_class(py::object cls) { error_class() = std::move(cls); }

void raise_status(const Status& status) {
  const py::object& cls = error_class();
  const std::string message = keyword_words(status.message());
  if (!cls) throw std::runtime_error(message);
  py::object error = cls(message, code_id(status.code()));
  PyErr_SetObject(cls.ptr(), error.ptr());
  throw py::error_already_set();
}

void raise_invalid(const std::string& message) {
  raise_status(Status(ErrorCode::kInvalidArgument, message));
}

void check_isa_setting() {
  if (kernels::machine().isa_unknown) raise_invalid(kernels::machine().isa_error);
}

}  // namespace sqz::python
