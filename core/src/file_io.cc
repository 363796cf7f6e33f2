#include "sqz/core/file_io.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>

namespace sqz {
namespace {

// Temporary files being written, for the signal handler (async-signal-safe: fixed slots,
// atomics, unlink only).
constexpr int kMaxPending = 16;
constexpr size_t kMaxPath = 4096;
char g_pending[kMaxPending][kMaxPath];
std::atomic<bool> g_used[kMaxPending];

int register_pending(const std::string& path) {
  if (path.size() >= kMaxPath) return -1;
  for (int i = 0; i < kMaxPending; ++i) {
    bool expected = false;
    if (g_used[i].compare_exchange_strong(expected, true)) {
      std::memcpy(g_pending[i], path.c_str(), path.size() + 1);
      return i;
    }
  }
  return -1;
}

void unregister_pending(int slot) {
  if (slot >= 0) g_used[slot].store(false);
}

void cleanup_and_reraise(int sig) {
  for (int i = 0; i < kMaxPending; ++i)
    if (g_used[i].load()) ::unlink(g_pending[i]);
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

// Testing hook: a delay between written chunks, so that a test can interrupt a write.
int write_delay_ms() {
  const char* v = std::getenv("SQZ_TEST_WRITE_DELAY_MS");
  return v ? std::atoi(v) : 0;
}

}  // namespace

void install_interrupt_cleanup() {
  // A signal the parent chose to ignore (e.g. SIGINT for a background job) stays ignored.
  for (int sig : {SIGINT, SIGTERM, SIGHUP})
    if (::signal(sig, cleanup_and_reraise) == SIG_IGN) ::signal(sig, SIG_IGN);
  ::signal(SIGXFSZ, SIG_IGN);
}

Result<std::string> read_file(const std::string& path, size_t max_bytes) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return Status(ErrorCode::kIo, path + ": cannot open: " + std::strerror(errno));
  if (S_ISDIR(st.st_mode)) return Status(ErrorCode::kIo, path + ": is a directory, not a file");
  // A FIFO or a device would block or never end: only regular files are read.
  if (!S_ISREG(st.st_mode)) return Status(ErrorCode::kIo, path + ": is not a regular file");
  if (static_cast<size_t>(st.st_size) > max_bytes)
    return Status(ErrorCode::kLimit, path + ": file of " + std::to_string(st.st_size) +
                                         " bytes is larger than the limit of " +
                                         std::to_string(max_bytes));
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status(ErrorCode::kIo, path + ": cannot open: " + std::strerror(errno));
  std::string bytes(static_cast<size_t>(st.st_size), '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (in.gcount() != static_cast<std::streamsize>(bytes.size()))
    return Status(ErrorCode::kIo, path + ": read failed");
  return bytes;
}

// A temporary name in path's folder that fits NAME_MAX whatever path's own length.
std::string temp_name_beside(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return (slash == std::string::npos ? std::string() : path.substr(0, slash + 1)) +
         ".sqz-tmp-XXXXXX";
}

Status write_file_atomic(const std::string& path, std::string_view bytes, bool overwrite) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!overwrite)
      return Status(ErrorCode::kInvalidArgument,
                    path + ": already exists (use `force` to overwrite)");
    // Even with `force`, only a regular file is replaced: never a device, FIFO or folder.
    if (!S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode))
      return Status(ErrorCode::kInvalidArgument,
                    path + ": exists and is not a regular file; write to a file path");
    if (S_ISLNK(st.st_mode) && (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)))
      return Status(ErrorCode::kInvalidArgument,
                    path + ": is a link to something that is not a regular file");
  }
  std::string tmp = temp_name_beside(path);
  // Signals are held while the temporary file is created and registered.
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGINT);
  sigaddset(&block, SIGTERM);
  sigaddset(&block, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &block, &old);
  int fd = ::mkstemp(tmp.data());
  const int slot = fd >= 0 ? register_pending(tmp) : -1;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (fd < 0) return Status(ErrorCode::kIo, path + ": cannot create: " + std::strerror(errno));
  auto fail = [&](const char* what) {
    Status s(ErrorCode::kIo, path + ": " + what + ": " + std::strerror(errno));
    ::close(fd);
    ::unlink(tmp.c_str());
    unregister_pending(slot);
    return s;
  };
  const int delay = write_delay_ms();
  const size_t chunk = delay ? size_t{4096} : bytes.size();
  size_t done = 0;
  while (done < bytes.size()) {
    if (delay) ::usleep(static_cast<useconds_t>(delay) * 1000);
    ssize_t n = ::write(fd, bytes.data() + done, std::min(chunk, bytes.size() - done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return fail("write failed");
    done += static_cast<size_t>(n);
  }
  if (::fchmod(fd, 0644) != 0) return fail("chmod failed");
  if (::fsync(fd) != 0) return fail("fsync failed");
  if (::close(fd) != 0) {
    Status s(ErrorCode::kIo, path + ": close failed: " + std::strerror(errno));
    ::unlink(tmp.c_str());
    unregister_pending(slot);
    return s;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    Status s(ErrorCode::kIo, path + ": rename failed: " + std::strerror(errno));
    ::unlink(tmp.c_str());
    unregister_pending(slot);
    return s;
  }
  unregister_pending(slot);
  return Status::ok();
}

std::string file_extension(const std::string& path) {
  size_t slash = path.find_last_of('/');
  size_t dot = path.find_last_of('.');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return "";
  std::string ext = path.substr(dot);
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext;
}

void strip_utf8_bom(std::string* text) {
  if (text->rfind("\xEF\xBB\xBF", 0) == 0) text->erase(0, 3);
}

}  // namespace sqz
