// Shared pieces of the subcommands: exit codes, error printing, model loading.
#pragma once

#include <boost/program_options.hpp>
#include <initializer_list>
#include <map>
#include <string>
#include <vector>

#include "sqz/core/graph.h"
#include "sqz/core/status.h"
#include "sqz/format/sqz_file.h"
#include "sqz/pipeline/model_io.h"
#include "sqz/prune/prune.h"
#include "sqz/report/text.h"

namespace sqz::cli {

namespace po = boost::program_options;
using pipeline::load_any_model;
using pipeline::standard_metadata;
using report::json_quote;
using report::printable;

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

// Options every subcommand takes.
struct GlobalFlags {
  bool quiet = false;
  bool verbose = false;
  bool json = false;
  int64_t max_memory_mib = 0;  // --max-memory (applied as it is parsed)
  bool tune = false;           // --tune (applied as it is parsed, as --tune-cache)
  std::string tune_cache;
};

// "squeeze-compress: <message>" on stderr; returns kExitFailure.
// A library message in the CLI's words: each option the library names (`target_bytes`) as its
// flag (--target-bytes). Every message from a library is printed through it.
std::string flag_words(const std::string& message);
int fail(const Status& status);
int usage_error(const std::string& command, const std::string& message);

// Parses argv for one subcommand; positional names in order. Returns false after printing
// help (exit 0, *exit_code = 0) or a usage error (*exit_code = 2).
bool parse_args(const std::string& command, const std::string& synopsis,
                po::options_description& options, const std::vector<std::string>& positional,
                int argc, char** argv, po::variables_map* vm, int* exit_code);

// What a command does with networks: the memory limit and tuning options are offered only by
// commands that plan one (elsewhere they would be ignored).
enum class RunsNetworks { kNo, kYes };
// --help, -q, -v, --json; with RunsNetworks::kYes also --max-memory, --tune, --tune-cache.
void add_global_options(po::options_description& options, GlobalFlags* flags,
                        RunsNetworks runs = RunsNetworks::kYes);

// The first of names given on the command line (or in a --config file), as "--name"; "" when
// none is. Defaults do not count.
std::string first_given(const po::variables_map& vm, std::initializer_list<const char*> names);
// Every option given (not defaulted), as its name in snake_case: the library's words for them.
std::vector<std::string> given_names(const po::variables_map& vm);

// Upper bounds of the options that count things: far beyond any real use, low enough that
// nothing sized by them overflows.
constexpr double kMaxBatch = 4096;               // images per pass or step (memory is planned too)
constexpr double kMaxSteps = 1e7;                // optimizer steps
constexpr double kMaxImages = 1e7;               // --limit (as many as a folder may list)
constexpr double kMaxSeed = 9007199254740992.0;  // 2^53: every seed a double holds exactly

// "lo..hi" for an option's range in messages (integers as integers, floats as %g).
std::string range_text(double lo, double hi);

// A numeric option whose value must lie in [lo, hi] (NaN never does): checked as it is
// parsed, so that a value out of range is a usage error naming the option (exit 2), never
// clamped, truncated or taken as "not given". `name` is the option's long name.
template <class T>
po::typed_value<T>* ranged(T* target, double lo, double hi, const std::string& name) {
  return po::value(target)->notifier([lo, hi, name](const T& v) {
    const double x = static_cast<double>(v);
    if (!(x >= lo && x <= hi))
      throw po::error("--" + name + " must be in " + range_text(lo, hi) + ", not " +
                      range_text(x, x));
  });
}

// A numeric option that must be > 0 and at most hi (learning rates, temperatures).
template <class T>
po::typed_value<T>* positive(T* target, double hi, const std::string& name) {
  return po::value(target)->notifier([hi, name](const T& v) {
    const double x = static_cast<double>(v);
    if (!(x > 0 && x <= hi))
      throw po::error("--" + name + " must be greater than 0 and at most " + range_text(hi, hi) +
                      ", not " + range_text(x, x));
  });
}

// --threads: 1..runtime::kMaxThreads.
po::typed_value<int>* thread_count(int* target);

// Parses repeated NAME=VALUE options (e.g. --layer-density conv1=0.5), each value in
// [lo, hi] (and a whole number with `integer`); flag names the option in errors.
Result<std::map<std::string, double>> parse_name_values(const std::vector<std::string>& items,
                                                        const std::string& flag, double lo,
                                                        double hi, bool integer = false);

// Parses repeated --layer-bits NAME=BITS, BITS a whole number in 0..8
// (0 keeps the layer float32).
Result<std::map<std::string, int>> parse_layer_bits(const std::vector<std::string>& items);

// Parses --granularity: "weight" or "kernel".
Result<prune::Granularity> parse_granularity(const std::string& text);

}  // namespace sqz::cli
