// A pipeline Observer that forwards to a Python callable and turns Ctrl-C (or an exception the
// callable raises) into cancellation. The callable gets (event, label, done, total):
//   ("stage", what, index, count), ("task", label, 0, total), ("progress", label, done, total),
//   ("done", label, total, total), ("note", line, 0, 0).
#pragma once

#include <pybind11/pybind11.h>

#include <string>

#include "sqz/pipeline/observer.h"

namespace sqz::python {

namespace py = pybind11;

class PyObserver : public pipeline::Observer {
 public:
  explicit PyObserver(py::object callback) : callback_(std::move(callback)) {}
  void stage(int index, int count, const std::string& what) override {
    call("stage", what, index, count);
  }
  void task(const std::string& label, int64_t total) override {
    label_ = label;
    total_ = total;
    call("task", label, 0, total);
  }
  void progress(int64_t done) override { call("progress", label_, done, total_); }
  void task_done() override { call("done", label_, total_, total_); }
  void note(const std::string& line) override { call("note", line, 0, 0); }
  bool cancelled() override;
  // After the call: re-raises the KeyboardInterrupt or the callback's exception, if any.
  // REQUIRES: the GIL is held.
  void rethrow();

 private:
  void call(const char* event, const std::string& label, int64_t done, int64_t total);
  py::object callback_;
  std::string label_;
  int64_t total_ = 0;
  bool stop_ = false;
  PyObject *type_ = nullptr, *value_ = nullptr, *trace_ = nullptr;  // the pending exception
};

}  // namespace sqz::python
