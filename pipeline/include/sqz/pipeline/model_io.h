// Loading any model form the project reads, and the metadata every .sqz the tools write
// carries.
#pragma once

#include <string>

#include "sqz/core/graph.h"
#include "sqz/core/status.h"
#include "sqz/import/importers.h"
#include "sqz/format/sqz_file.h"
#include "sqz/pipeline/preprocessing.h"

namespace sqz::pipeline {

// Loads any supported model form (see import::load_model). metadata, when given, receives a
// .sqz file's metadata (and is cleared for other forms).
// options: e.g. the input shape of a model whose file leaves it symbolic.
Result<Model> load_any_model(const std::string& path, const std::string& prototxt,
                             format::Metadata* metadata = nullptr,
                             const import::ImportOptions& options = {});

// Metadata for a .sqz made from source_path: producer (this version), the source's file name
// and FNV-1a 64 hash (when it is readable), and `pipeline`, a description of what was done.
format::Metadata standard_metadata(const std::string& source_path, const std::string& pipeline);

// The metadata of a model a stage (prune, quantize, encode) writes from the file at model_path:
// standard_metadata plus the preprocessing it records, resolved as resolve_preprocess does
// (the given spec, else what the input records, else Caffe's convention for a Caffe form;
// an assumed one is not recorded). A spec that disagrees with the input's record is
// kConflict unless re_record, which sets *notice to a line saying what changed. A network
// whose input is not an image records nothing, unless a spec was given or the input records
// something (a record is never dropped silently).
Result<format::Metadata> stage_output_metadata(const std::string& model_path, const Model& model,
                                               const format::Metadata& input_metadata,
                                               const std::optional<PreprocessSpec>& spec,
                                               bool re_record, const std::string& pipeline,
                                               std::string* notice);

// Writes a model by the output's extension: .sqz (encoded with `encoding`, its metadata
// included; the encoded file is returned in *file when given), .onnx (dense, with the
// metadata), or .caffemodel with its .prototxt beside it (both files or neither). Atomic; an
// existing file is replaced only with overwrite.
Status write_model(const Model& model, const std::string& out,
                   const format::SqzEncodeOptions& encoding, bool overwrite,
                   format::SqzFile* file = nullptr);

}  // namespace sqz::pipeline
