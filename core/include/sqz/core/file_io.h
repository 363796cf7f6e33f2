// Whole-file reads and atomic whole-file writes.
#pragma once

#include <string>
#include <string_view>

#include "sqz/core/status.h"

namespace sqz {

// Reads a regular file. Errors (kIo) name the path: missing, unreadable, a directory or
// anything else that is not a regular file (a FIFO, a device), or larger than max_bytes
// (kLimit).
Result<std::string> read_file(const std::string& path, size_t max_bytes = size_t{1} << 31);

// Writes bytes to path atomically: a temporary file in the same folder, fsync, rename.
// Refuses to replace an existing file unless overwrite is set, and never replaces anything
// but a regular file (a device, FIFO or folder at path is kInvalidArgument even so).
// On any failure the temporary file is removed and an existing file is untouched.
Status write_file_atomic(const std::string& path, std::string_view bytes, bool overwrite);

// Installs SIGINT/SIGTERM/SIGHUP handlers that delete the temporary files of writes in progress
// before the process dies of the signal, and ignores SIGXFSZ so that exceeding a file-size
// limit is a write error (reported, cleaned up) rather than a kill. Call once from main.
void install_interrupt_cleanup();

// Lower-case extension including the dot ("model.ONNX" -> ".onnx"), or "".
std::string file_extension(const std::string& path);

// Text as read from a file with a leading UTF-8 byte-order mark (which Windows editors write)
// removed, so that the first line's first field is what it shows.
void strip_utf8_bom(std::string* text);

}  // namespace sqz
