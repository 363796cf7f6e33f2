// Subcommand entry points: argv[0] is the subcommand name. Each returns an exit code.
#pragma once

namespace sqz::cli {

int cmd_info(int argc, char** argv);
int cmd_run(int argc, char** argv);
int cmd_eval(int argc, char** argv);
int cmd_encode(int argc, char** argv);
int cmd_decode(int argc, char** argv);
int cmd_quantize(int argc, char** argv);
int cmd_prune(int argc, char** argv);
int cmd_sensitivity(int argc, char** argv);
int cmd_bench(int argc, char** argv);
int cmd_compress(int argc, char** argv);
int cmd_report(int argc, char** argv);

}  // namespace sqz::cli
