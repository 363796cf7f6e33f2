#include "sqz/core/file_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>

namespace sqz {

Result<std::string> read_file(const std::string& path, size_t max_bytes) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return Status(ErrorCode::kIo, path + ": cannot open: " + std::strerror(errno));
  if (S_ISDIR(st.st_mode)) return Status(ErrorCode::kIo, path + ": is a directory, not a file");
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

Status write_file_atomic(const std::string& path, std::string_view bytes, bool overwrite) {
  struct stat st {};
  if (!overwrite && ::stat(path.c_str(), &st) == 0)
    return Status(ErrorCode::kInvalidArgument,
                  path + ": already exists (use --force to overwrite)");
  std::string tmp = path + ".tmp-XXXXXX";
  int fd = ::mkstemp(tmp.data());
  if (fd < 0) return Status(ErrorCode::kIo, path + ": cannot create: " + std::strerror(errno));
  auto fail = [&](const char* what) {
    Status s(ErrorCode::kIo, path + ": " + what + ": " + std::strerror(errno));
    ::close(fd);
    ::unlink(tmp.c_str());
    return s;
  };
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return fail("write failed");
    done += static_cast<size_t>(n);
  }
  if (::fchmod(fd, 0644) != 0) return fail("chmod failed");
  if (::fsync(fd) != 0) return fail("fsync failed");
  if (::close(fd) != 0) {
    ::unlink(tmp.c_str());
    return Status(ErrorCode::kIo, path + ": close failed: " + std::strerror(errno));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    Status s(ErrorCode::kIo, path + ": rename failed: " + std::strerror(errno));
    ::unlink(tmp.c_str());
    return s;
  }
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

}  // namespace sqz
