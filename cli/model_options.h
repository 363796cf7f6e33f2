// The options about a model that many commands share: preprocessing (pipeline/
// preprocessing.h), input shape, and the metadata a written .sqz records.
#pragma once

#include <optional>
#include <string>

#include "common.h"
#include "sqz/import/importers.h"
#include "sqz/pipeline/preprocessing.h"

namespace sqz::cli {

// The preprocessing options every command that reads images takes; empty/0 = not given.
struct PreprocessFlags {
  std::string preset, resize_mode, channel_order, mean, std;
  int resize = 0;
  float divisor = 0;
  bool allow_truncated = false;  // decoding, not preprocessing: never recorded
  bool re_record = false;        // a writer may record options that differ from the input's
};
// decodes_images: the command reads image files (else --allow-truncated-images, which only
// says how to decode them, is not offered: it would be ignored).
void add_preprocess_options(po::options_description& options, PreprocessFlags* flags,
                            bool decodes_images = true);
// The first preprocessing option on the command line, as "--name", or "" when none is.
std::string given_preprocess_flag(const po::variables_map& vm);
// --re-record-preprocess, for the commands that write a model.
void add_record_option(po::options_description& options, PreprocessFlags* flags);

// The spec the options give, or nullopt when none was given. kInvalidArgument for bad values.
Result<std::optional<pipeline::PreprocessSpec>> preprocess_spec(const PreprocessFlags& flags);

// The preprocessing to run the model at model_path with (pipeline::resolve_preprocess). When
// Caffe's convention is only assumed, *notice receives a one-line note for the user (printed
// with print_notice once the command has succeeded, so that an error stays one line).
Result<image::Preprocess> model_preprocess(const std::string& model_path, const Shape& chw,
                                           const format::Metadata& metadata,
                                           const PreprocessFlags& flags, bool force,
                                           std::string* notice);
// standard_metadata for a .sqz written from model_path, plus its preprocessing when it is
// known: given by the options, recorded by the input (input_metadata), or Caffe's for a Caffe
// form. Errors: bad options; a record the readers refuse (malformed, more than one, not
// fitting the input); options that disagree with the record (kConflict) unless
// flags.re_record, which sets *notice to say what changed.
Result<format::Metadata> output_metadata(const std::string& model_path, const Model& model,
                                         const format::Metadata& input_metadata,
                                         const PreprocessFlags& flags, const std::string& pipeline,
                                         std::string* notice);

// A kConflict between options and a record, with the flag that resolves it for a writer.
Status re_record_hint(const Status& status);

// "squeeze-compress: note: <notice>" on stderr, unless quiet or the notice is empty.
void print_notice(const std::string& notice, bool quiet);

// A usage error unless out ends in .sqz (a command that only writes .sqz files).
Status require_sqz_output(const std::string& out);

// The exit for a model_preprocess error: a usage error (2) for options that are bad or
// disagree with the model's recorded preprocessing, else a failure (1).
int preprocess_error(const std::string& command, const Status& status);

// --input-shape N,C,H,W: for a model whose file leaves input dimensions symbolic (or to run a
// fully convolutional one at another size).
void add_input_shape_option(po::options_description& options, std::string* text);
// The importer options it gives (empty text: none). kInvalidArgument for a bad shape.
Result<import::ImportOptions> import_options(const std::string& input_shape);

}  // namespace sqz::cli
