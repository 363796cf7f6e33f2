#include "common.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>

#include "sqz/core/file_io.h"
#include "sqz/runtime/net.h"

namespace sqz::cli {

int fail(const Status& status) {
  std::fprintf(stderr, "squeeze-compress: error: %s\n", printable(status.message()).c_str());
  return kExitFailure;
}

int usage_error(const std::string& command, const std::string& message) {
  std::fprintf(stderr, "squeeze-compress %s: %s (see 'squeeze-compress %s --help')\n",
               command.c_str(), message.c_str(), command.c_str());
  return kExitUsage;
}

namespace {

void set_max_memory(const int64_t& mib) {
  rt::set_default_activation_budget(std::clamp<int64_t>(mib, 1, int64_t{1} << 20) << 20);
}

}  // namespace

void add_global_options(po::options_description& options, GlobalFlags* flags) {
  options.add_options()("help,h", "show this help")("quiet,q", po::bool_switch(&flags->quiet),
                                                    "print nothing but results and errors")(
      "verbose,v", po::bool_switch(&flags->verbose), "print more detail on stderr")(
      "json", po::bool_switch(&flags->json), "machine-readable output on stdout")(
      "max-memory", po::value(&flags->max_memory_mib)->notifier(&set_max_memory),
      "MiB of activations a network may plan (default 256; SqueezeNet at 227x227 needs "
      "about 20)");
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
      std::ifstream in(path);
      if (!in) {
        *exit_code = fail(Status(ErrorCode::kIo, path + ": cannot open the config file"));
        return false;
      }
      try {
        po::store(po::parse_config_file(in, options), *vm);
      } catch (const po::error& e) {
        *exit_code = fail(Status(ErrorCode::kParse, path + ": " + e.what()));
        return false;
      }
    }
    if (vm->count("help")) {
      std::cout << "usage: squeeze-compress " << command << " " << synopsis << "\n\n" << options;
      *exit_code = kExitOk;
      return false;
    }
    po::notify(*vm);
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
                                                        const std::string& flag) {
  std::map<std::string, double> out;
  for (const std::string& item : items) {
    const size_t eq = item.rfind('=');
    const Status bad(ErrorCode::kInvalidArgument, flag + " wants NAME=VALUE, got '" + item + "'");
    if (eq == std::string::npos || eq == 0 || eq + 1 == item.size()) return bad;
    char* end = nullptr;
    const double v = std::strtod(item.c_str() + eq + 1, &end);
    if (*end != '\0') return bad;
    out[item.substr(0, eq)] = v;
  }
  return out;
}

}  // namespace sqz::cli
