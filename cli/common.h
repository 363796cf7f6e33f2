// Shared pieces of the subcommands: exit codes, error printing, model loading.
#pragma once

#include <boost/program_options.hpp>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sqz/core/graph.h"
#include "sqz/core/status.h"
#include "sqz/format/sqz_file.h"
#include "sqz/pipeline/model_io.h"
#include "sqz/pipeline/preprocessing.h"
#include "sqz/pipeline/text.h"
#include "sqz/prune/prune.h"

namespace sqz::cli {

namespace po = boost::program_options;
using pipeline::load_any_model;
using pipeline::standard_metadata;
using pipeline::json_quote;
using pipeline::printable;

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

// Options every subcommand takes.
struct GlobalFlags {
  bool quiet = false;
  bool verbose = false;
  bool json = false;
  int64_t max_memory_mib = 0;  // --max-memory (applied as it is parsed)
};

// "squeeze-compress: <message>" on stderr; returns kExitFailure.
int fail(const Status& status);
int usage_error(const std::string& command, const std::string& message);

// Parses argv for one subcommand; positional names in order. Returns false after printing
// help (exit 0, *exit_code = 0) or a usage error (*exit_code = 2).
bool parse_args(const std::string& command, const std::string& synopsis,
                po::options_description& options, const std::vector<std::string>& positional,
                int argc, char** argv, po::variables_map* vm, int* exit_code);

void add_global_options(po::options_description& options, GlobalFlags* flags);

// Parses repeated NAME=VALUE options (e.g. --layer-density conv1=0.5); flag names the option
// in errors.
Result<std::map<std::string, double>> parse_name_values(const std::vector<std::string>& items,
                                                        const std::string& flag);

// The preprocessing options every command that reads images takes; empty/0 = not given.
struct PreprocessFlags {
  std::string preset, resize_mode, channel_order, mean, std;
  int resize = 0;
  float divisor = 0;
  bool allow_truncated = false;  // decoding, not preprocessing: never recorded
};
void add_preprocess_options(po::options_description& options, PreprocessFlags* flags);

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
// known: given by the options, recorded by the input .sqz (input_metadata), or Caffe's for a
// Caffe form. Errors: bad options, or options that disagree with the recorded description
// (kConflict) unless force.
Result<format::Metadata> output_metadata(const std::string& model_path, const Model& model,
                                         const format::Metadata& input_metadata,
                                         const PreprocessFlags& flags, bool force,
                                         const std::string& pipeline);

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
Result<format::ImportOptions> import_options(const std::string& input_shape);

// Parses --granularity: "weight" or "kernel".
Result<prune::Granularity> parse_granularity(const std::string& text);

}  // namespace sqz::cli
