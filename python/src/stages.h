// The pipeline's stages for Python: compress, prune and quantize with keyword options (the
// command line's long option names, '-' as '_'), progress to a callback, Ctrl-C as
// cancellation (no output file is left).
#pragma once

#include <pybind11/pybind11.h>

#include <string>

namespace sqz::python {

namespace py = pybind11;

// Each returns a dict summary; raises Error (bad option: code "invalid_argument") or the
// KeyboardInterrupt that cancelled it.
py::dict compress(const std::string& model, const std::string& output, bool force,
                  py::object progress, py::dict options);
py::dict prune(const std::string& model, const std::string& output, bool force,
               py::object progress, py::dict options);
py::dict quantize(const std::string& model, const std::string& output, bool force,
                  py::object progress, py::dict options);
// The report over several models (squeeze-compress report --json) as a dict, with its
// Markdown under "markdown"; html/chart: also write those renderings.
py::dict report(const std::vector<std::string>& models, const std::string& html,
                const std::string& chart, bool force, py::object progress, py::dict options);

}  // namespace sqz::python
