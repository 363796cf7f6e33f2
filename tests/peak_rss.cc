// Runs a command and reports its peak resident memory: "peak_rss_kib EXIT SIGNAL" on fd 3.
// A child forked from a large process (a test under AddressSanitizer) would count the pages it
// shares with that process before exec in its own peak; started from this small program, the
// command's peak is its own.
// usage: peak_rss COMMAND [ARGS...]   (fd 3 must be open for writing)
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>

int main(int argc, char** argv) {
  if (argc < 2) return 127;
  const pid_t pid = fork();
  if (pid == 0) {
    close(3);
    execv(argv[1], argv + 1);
    _exit(127);
  }
  int status = 0;
  rusage usage{};
  if (pid < 0 || wait4(pid, &status, 0, &usage) != pid) return 127;
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  const int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  dprintf(3, "%ld %d %d\n", usage.ru_maxrss, code, sig);
  return code < 0 ? 128 + sig : code;
}
