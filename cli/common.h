// Shared pieces of the subcommands: exit codes, error printing, model loading.
#pragma once

#include <boost/program_options.hpp>
#include <map>
#include <string>
#include <vector>

#include "sqz/core/graph.h"
#include "sqz/core/status.h"
#include "sqz/format/sqz_file.h"
#include "sqz/pipeline/model_io.h"
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

// Parses --granularity: "weight" or "kernel".
Result<prune::Granularity> parse_granularity(const std::string& text);

}  // namespace sqz::cli
