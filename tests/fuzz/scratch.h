// The fuzz targets' scratch folder: made once per process under /tmp, removed at its normal
// exit (a replay's; a fuzzer that stops on a finding leaves it for the finding's files).
#pragma once

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace sqz_fuzz {

inline const std::string& scratch_dir() {
  static std::string dir;
  static const bool made = [] {
    char name[] = "/tmp/sqz-fuzz-XXXXXX";
    if (!::mkdtemp(name)) std::abort();
    dir = name;
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    });
    return true;
  }();
  (void)made;
  return dir;
}

// Writes a file plainly (no fsync, unlike write_file_atomic: a run would wait on the disk).
inline void write_input(const std::string& path, const std::string& bytes) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  const bool ok = f && std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  if ((f && std::fclose(f) != 0) || !ok) std::abort();
}

}  // namespace sqz_fuzz
