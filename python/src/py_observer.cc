#include "py_observer.h"

#include "errors.h"

namespace sqz::python {

void PyObserver::call(const char* event, const std::string& label, int64_t done, int64_t total) {
  if (stop_ || callback_.is_none()) return;
  py::gil_scoped_acquire acquire;
  try {
    callback_(event, keyword_words(label), done, total);
  } catch (py::error_already_set& e) {
    e.restore();
    PyErr_Fetch(&type_, &value_, &trace_);
    stop_ = true;
  }
}

bool PyObserver::cancelled() {
  if (stop_) return true;
  py::gil_scoped_acquire acquire;
  // Signals are handled on the main thread only; elsewhere a later poll there sees them.
  if (PyErr_CheckSignals() != 0) {
    PyErr_Fetch(&type_, &value_, &trace_);
    stop_ = true;
  }
  return stop_;
}

void PyObserver::rethrow() {
  if (!type_) return;
  PyErr_Restore(type_, value_, trace_);
  type_ = value_ = trace_ = nullptr;
  throw py::error_already_set();
}

}  // namespace sqz::python
