// Loading any model form the project reads, and the metadata every .sqz the tools write
// carries.
#pragma once

#include <string>

#include "sqz/core/graph.h"
#include "sqz/core/status.h"
#include "sqz/format/importers.h"
#include "sqz/format/sqz_file.h"

namespace sqz::pipeline {

// Loads any supported model form (see format::load_model). metadata, when given, receives a
// .sqz file's metadata (and is cleared for other forms).
// options: e.g. the input shape of a model whose file leaves it symbolic.
Result<Model> load_any_model(const std::string& path, const std::string& prototxt,
                             format::Metadata* metadata = nullptr,
                             const format::ImportOptions& options = {});

// Metadata for a .sqz made from source_path: producer (this version), the source's file name
// and FNV-1a 64 hash (when it is readable), and `pipeline`, a description of what was done.
format::Metadata standard_metadata(const std::string& source_path, const std::string& pipeline);

}  // namespace sqz::pipeline
