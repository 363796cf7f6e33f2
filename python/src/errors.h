// Library errors as Python exceptions: squeeze_compress.Error (defined in __init__.py and
// handed to the module once) with the message and the library's error code name.
#pragma once

#include <pybind11/pybind11.h>

#include <string>

#include "sqz/core/status.h"

namespace sqz::python {

namespace py = pybind11;

// Called by __init__.py with its Error class (message, code).
void set_error_class(py::object cls);

// A library message in Python's words: each option it names (`target_bytes`) as the keyword.
std::string keyword_words(const std::string& message);

// Raises Error(status.message() in keyword_words, code name). REQUIRES: the GIL is held.
[[noreturn]] void raise_status(const Status& status);

// An invalid argument, naming the keyword.
[[noreturn]] void raise_invalid(const std::string& message);

// Raises an invalid argument when SQZ_ISA names no ISA path: every entry that runs kernels
// refuses it, as the CLI's commands do, rather than run the CPU's best path under its label.
void check_isa_setting();

template <typename T>
T value_or_raise(Result<T>&& r) {
  if (!r.is_ok()) raise_status(r.status());
  return std::move(r).value();
}

inline void check(const Status& s) {
  if (!s.is_ok()) raise_status(s);
}

}  // namespace sqz::python
