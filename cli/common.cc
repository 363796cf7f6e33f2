#include "common.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include "sqz/core/file_io.h"
#include "sqz/kernels/machine.h"
#include "sqz/runtime/net.h"
#include "sqz/runtime/thread_pool.h"
#include "sqz/train/trainer.h"

namespace sqz::cli {

std::string flag_words(const std::string& message) {
  return spell_option_names(message, [](const std::string& name) {
    std::string flag = "--" + name;
    std::replace(flag.begin(), flag.end(), '_', '-');
    return flag;
  });
}

int fail(const Status& status) {
  std::fprintf(stderr, "squeeze-compress: error: %s\n",
               printable(flag_words(status.message())).c_str());
  return kExitFailure;
}

int usage_error(const std::string& command, const std::string& message) {
  std::fprintf(stderr, "squeeze-compress %s: %s (see 'squeeze-compress %s --help')\n",
               command.c_str(), flag_words(message).c_str(), command.c_str());
  return kExitUsage;
}

namespace {

// Largest --max-memory: 1 TiB of activations.
constexpr int64_t kMaxMemoryMib = int64_t{1} << 20;
// Largest --config file: a few hundred options fit in far less.
constexpr size_t kMaxConfigBytes = size_t{1} << 20;

void set_max_memory(const int64_t& mib) {
  if (mib < 1 || mib > kMaxMemoryMib)
    throw po::error("--max-memory must be in " + range_text(1, kMaxMemoryMib) + " (MiB), not " +
                    std::to_string(mib));
  runtime::set_default_activation_budget(mib << 20);
  train::set_default_step_budget(mib << 20);
}

void set_tune(const bool& on) {
  runtime::TuningDefaults d = runtime::default_tuning();
  d.tune = on;
  runtime::set_default_tuning(d);
}

void set_tune_cache(const std::string& path) {
  if (Status s = runtime::check_tune_cache(path); !s.is_ok())
    throw po::error("--tune-cache: " + s.message());
  runtime::TuningDefaults d = runtime::default_tuning();
  d.cache = path;
  runtime::set_default_tuning(d);
}

// An option given as an empty string ("--labels ''") would read as "not given" and fall back
// to a default silently: every given text value must have text. Switches (options that take
// no value, stored as an empty string) are not text values.
void refuse_empty_values(const po::variables_map& vm, const po::options_description& options) {
  for (const auto& [name, value] : vm) {
    if (value.defaulted() || value.empty()) continue;
    const po::option_description* d = options.find_nothrow(name, false);
    if (d && d->semantic()->max_tokens() == 0) continue;
    bool empty = false;
    if (const auto* text = boost::any_cast<std::string>(&value.value())) empty = text->empty();
    if (const auto* list = boost::any_cast<std::vector<std::string>>(&value.value()))
      for (const std::string& item : *list) empty |= item.empty();
    if (empty) throw po::error("--" + name + " wants a value, not an empty string");
  }
}

// The options of a --config file, stored where the command line left them unset. Only a
// regular file of at most kMaxConfigBytes is read (a FIFO would block, /dev/zero never end).
Status store_config_file(const std::string& path, const po::options_description& options,
                         po::variables_map* vm) {
  SQZ_ASSIGN_OR_RETURN(std::string text, read_file(path, kMaxConfigBytes));
  strip_utf8_bom(&text);
  std::istringstream in(text);
  try {
    const po::parsed_options parsed = po::parse_config_file(in, options);
    for (const po::option& o : parsed.options)  // read here, it would be ignored
      if (o.string_key == "config")
        return Status(ErrorCode::kInvalidArgument,
                      path + ": a config file cannot name another (config files do not nest)");
    po::store(parsed, *vm);
  } catch (const po::error& e) {
    return Status(ErrorCode::kParse, path + ": " + e.what());
  }
  return Status::ok();
}

}  // namespace

std::string range_text(double lo, double hi) {
  auto one = [](double v) {
    char b[40];
    if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 1e15)
      std::snprintf(b, sizeof b, "%.0f", v);
    else
      std::snprintf(b, sizeof b, "%g", v);
    return std::string(b);
  };
  return lo == hi || (std::isnan(lo) && std::isnan(hi)) ? one(lo) : one(lo) + ".." + one(hi);
}

po::typed_value<int>* thread_count(int* target) {
  return ranged(target, 1, runtime::kMaxThreads, "threads");
}

std::string first_given(const po::variables_map& vm, std::initializer_list<const char*> names) {
  for (const char* name : names)
    if (vm.count(name) && !vm[name].defaulted()) return std::string("--") + name;
  return "";
}

std::vector<std::string> given_names(const po::variables_map& vm) {
  std::vector<std::string> names;
  for (const auto& [name, value] : vm) {
    if (value.defaulted()) continue;
    std::string snake = name;
    std::replace(snake.begin(), snake.end(), '-', '_');
    names.push_back(snake);
  }
  return names;
}

void add_global_options(po::options_description& options, GlobalFlags* flags, RunsNetworks runs) {
  options.add_options()("help,h", "show this help")("quiet,q", po::bool_switch(&flags->quiet),
                                                    "print nothing but results and errors")(
      "verbose,v", po::bool_switch(&flags->verbose), "print more detail on stderr")(
      "json", po::bool_switch(&flags->json), "machine-readable output on stdout");
  if (runs == RunsNetworks::kNo) return;
  options.add_options()(
      "max-memory", po::value(&flags->max_memory_mib)->notifier(&set_max_memory),
      "MiB of activations a network may plan for a pass of images (default 256: SqueezeNet at "
      "227x227 needs 4 an image), of bench's batch of inputs, and of a training step (default "
      "1024: about 90 per image)")(
      "tune", po::bool_switch(&flags->tune)->notifier(&set_tune),
      "time each convolution's kernels and thread splits on this CPU and keep the fastest "
      "(cached: later runs reuse the choice); without it the plan is a fixed rule")(
      "tune-cache", po::value(&flags->tune_cache)->notifier(&set_tune_cache),
      "--tune's cache file (default: ~/.cache/squeeze-compress/tune-v1.txt)");
}

// SQZ_ISA: a misspelt value is refused (a benchmark or test labelled with an ISA must have run
// it); one this CPU cannot run is a cap above the CPU's best, noted.
static void check_isa_override(bool quiet) {
  const kernels::Machine& m = kernels::machine();
  if (m.isa_unknown) throw po::error(m.isa_error + " (unset it, or name one)");
  if (!m.isa_error.empty() && !quiet)
    std::fprintf(stderr, "squeeze-compress: note: %s; the kernels use %s\n", m.isa_error.c_str(),
                 kernels::isa_name(m.isa));
}

bool parse_args(const std::string& command, const std::string& synopsis,
                po::options_description& options, const std::vector<std::string>& positional,
                int argc, char** argv, po::variables_map* vm, int* exit_code) {
  po::positional_options_description pos;
  for (const std::string& p : positional) pos.add(p.c_str(), p.back() == 's' ? -1 : 1);
  try {
    po::store(po::command_line_parser(argc, argv).options(options).positional(pos).run(), *vm);
    if (options.find_nothrow("config", false) && vm->count("config") && !vm->count("help")) {
      // Settings on the command line win over the file's (the first stored value stays).
      const std::string path = (*vm)["config"].as<std::string>();
      if (Status s = store_config_file(path, options, vm); !s.is_ok()) {
        *exit_code = fail(s.with_context("--config"));
        return false;
      }
    }
    if (vm->count("help")) {
      std::cout << "usage: squeeze-compress " << command << " " << synopsis << "\n\n" << options;
      *exit_code = kExitOk;
      return false;
    }
    refuse_empty_values(*vm, options);
    // An option that would be ignored is refused: the cache is --tune's (without it the plan
    // is the fixed rule and no cache is read).
    if (vm->count("tune-cache") && !(vm->count("tune") && (*vm)["tune"].as<bool>()))
      throw po::error("--tune-cache is the cache of --tune; give --tune too");
    po::notify(*vm);
    check_isa_override(vm->count("quiet") && (*vm)["quiet"].as<bool>());
  } catch (const po::error& e) {
    *exit_code = usage_error(command, e.what());
    return false;
  }
  return true;
}

Result<prune::Granularity> parse_granularity(const std::string& text) {
  if (text == "weight") return prune::Granularity::kWeight;
  if (text == "kernel") return prune::Granularity::kKernel;
  return Status(ErrorCode::kInvalidArgument,
                "--granularity must be weight or kernel, not '" + text + "'");
}

Result<std::map<std::string, double>> parse_name_values(const std::vector<std::string>& items,
                                                        const std::string& flag, double lo,
                                                        double hi, bool integer) {
  std::map<std::string, double> out;
  for (const std::string& item : items) {
    const size_t eq = item.rfind('=');
    const Status bad(ErrorCode::kInvalidArgument, flag + " wants NAME=VALUE, got '" + item + "'");
    if (eq == std::string::npos || eq == 0 || eq + 1 == item.size()) return bad;
    char* end = nullptr;
    const double v = std::strtod(item.c_str() + eq + 1, &end);
    if (*end != '\0') return bad;
    SQZ_RETURN_ERROR_IF(!(v >= lo && v <= hi) || (integer && v != std::floor(v)),
                        ErrorCode::kInvalidArgument,
                        flag + " wants " + (integer ? "a whole number" : "a value") + " in " +
                            range_text(lo, hi) + ", got '" + item + "'");
    SQZ_RETURN_ERROR_IF(!out.emplace(item.substr(0, eq), v).second, ErrorCode::kInvalidArgument,
                        flag + " names '" + item.substr(0, eq) + "' twice");
  }
  return out;
}

Result<std::map<std::string, int>> parse_layer_bits(const std::vector<std::string>& items) {
  SQZ_ASSIGN_OR_RETURN(auto values, parse_name_values(items, "--layer-bits", 0, 8, true));
  std::map<std::string, int> out;
  for (const auto& [name, v] : values) out[name] = static_cast<int>(v);
  return out;
}

}  // namespace sqz::cli
