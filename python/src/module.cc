// squeeze_compress._core: the compiled half of the squeeze_compress package (its __init__.py
// adds the image conversions, the Error class and the progress helpers).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "errors.h"
#include "model.h"
#include "sqz/core/version.h"
#include "sqz/kernels/machine.h"
#include "stages.h"

namespace py = pybind11;
using sqz::python::PyModel;

namespace {

// The CPU's names come from CPUID and the hypervisor: decoded with U+FFFD for any byte that is
// not UTF-8. A misspelt SQZ_ISA is refused, as by every entry that runs kernels (the record
// would name an ISA the user did not ask for).
py::dict machine_dict() {
  sqz::python::check_isa_setting();
  py::dict d;
  for (const sqz::kernels::MachineFact& f : sqz::kernels::machine_facts(sqz::kernels::machine()))
    d[f.name] = f.is_number
                    ? py::cast(f.number)
                    : py::reinterpret_steal<py::object>(PyUnicode_DecodeUTF8(
                          f.text.data(), static_cast<Py_ssize_t>(f.text.size()), "replace"));
  return d;
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "squeeze-compress: Deep Compression for SqueezeNet (compiled core)";
  m.attr("__version__") = sqz::kProducer;
  m.def("_set_error_class", &sqz::python::set_error_class);

  py::class_<PyModel>(m, "Model", "A model file opened for inference (see squeeze_compress.open).")
      .def(py::init<const std::string&, const std::string&, int, const std::vector<int64_t>&,
                    const std::string&, bool, bool, const std::string&>(),
           py::arg("path"), py::arg("prototxt") = "", py::arg("threads") = 1,
           py::arg("input_shape") = std::vector<int64_t>{}, py::arg("preprocess") = "",
           py::arg("force") = false, py::arg("tune") = false, py::arg("tune_cache") = "")
      .def_property_readonly("plan", &PyModel::plan)
      .def("run", &PyModel::run, py::arg("inputs"), py::arg("threads") = 0,
           "Runs float32 inputs of shape (N, C, H, W) (or (C, H, W)), already preprocessed; "
           "returns the outputs, shape (N, classes) (or (classes,)). threads: 0 keeps the "
           "model's.")
      .def("_classify_file", &PyModel::classify_file, py::arg("path"), py::arg("threads") = 0)
      .def("_classify_pixels", &PyModel::classify_pixels, py::arg("pixels"),
           py::arg("threads") = 0)
      .def_property_readonly("path", &PyModel::path)
      .def_property_readonly("input_shape", &PyModel::input_shape, "(C, H, W)")
      .def_property_readonly("num_classes", &PyModel::num_classes)
      .def_property_readonly("preprocess", &PyModel::preprocess,
                             "The preprocessing classify() applies, in the .sqz record's text "
                             "form; None when the input is not an image.")
      .def_property_readonly("preprocess_source", &PyModel::preprocess_source,
                             "given, recorded, caffe model or assumed")
      .def_property_readonly("notice", &PyModel::notice)
      .def_property_readonly("metadata", &PyModel::metadata);

  py::class_<sqz::python::PyPreprocessor>(
      m, "Preprocessor",
      "Images to network inputs, exactly as the runtime prepares them: a .sqz preprocess "
      "record, a preset ('caffe', 'torchvision') or '' (Caffe's), for an input of (C, H, W).")
      .def(py::init<const std::string&, const std::vector<int64_t>&>(), py::arg("description"),
           py::arg("input_shape"))
      .def("load", &sqz::python::PyPreprocessor::load, py::arg("path"),
           "An image file as a float32 (C, H, W) array.")
      .def_property_readonly("description", &sqz::python::PyPreprocessor::description);

  m.def("codebooks", &sqz::python::codebooks, py::arg("path"), py::arg("prototxt") = "",
        "Each weight-shared layer of a model file: {name: (codebook float32, codes uint8)}, the "
        "codes one per stored (unpruned) weight in OIHW order.");

  m.def("_compress", &sqz::python::compress, py::arg("model"), py::arg("output"),
        py::arg("force"), py::arg("progress"), py::arg("options"));
  m.def("_prune", &sqz::python::prune, py::arg("model"), py::arg("output"), py::arg("force"),
        py::arg("progress"), py::arg("options"));
  m.def("_report", &sqz::python::report, py::arg("models"), py::arg("html"), py::arg("chart"),
        py::arg("force"), py::arg("progress"), py::arg("options"));
  m.def("_quantize", &sqz::python::quantize, py::arg("model"), py::arg("output"),
        py::arg("force"), py::arg("progress"), py::arg("options"));

  m.def("machine", &machine_dict,
        "The CPU the runtime plans for, as `bench --json` records it: vendor, cpu, uarch, CPUID "
        "family and model, the kernels' ISA (and whether SQZ_ISA lowered it), each cache's bytes "
        "and the logical processors sharing it, cores and logical processors.");
}
