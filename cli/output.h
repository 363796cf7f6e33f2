// Writing the CLI's output files: .sqz, .onnx, .caffemodel (+ .prototxt beside it).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "sqz/core/graph.h"
#include "sqz/core/status.h"
#include "sqz/format/sqz_file.h"

namespace sqz::cli {

// Fails before any work when out exists and force is off, or its folder is missing.
Status check_output_path(const std::string& out, bool force);

// Encodes and writes a .sqz atomically. Returns the file description (with its ledger).
Result<format::SqzFile> write_sqz_file(const Model& model, const std::string& out,
                                       const format::Metadata& metadata, bool force,
                                       bool compare_with_zstd = false);

// Dense float32 export chosen by extension: .onnx, or .caffemodel (the .prototxt is written
// beside it), or .sqz.
Status write_model_file(const Model& model, const std::string& out, bool force,
                        const format::Metadata& metadata);

// Writes several files as one output: every path is checked first (an existing file needs
// force; anything but a regular file is refused), then each is written atomically. If a
// write fails, the files this call already wrote are removed again (all or none).
Status write_files_together(const std::vector<std::pair<std::string, std::string>>& files,
                            bool force);

// Prints the size ledger: per layer bytes by part, totals, and the comparisons.
void print_ledger(const format::SqzFile& f, bool json);

}  // namespace sqz::cli
