#include "sqz/train/idx.h"

#include <sys/stat.h>
#include <zlib.h>

#include "sqz/core/file_io.h"

namespace sqz::train {
namespace {

constexpr size_t kMaxBytes = size_t{1} << 30;

// The whole file, gunzipped when it starts with the gzip magic.
Result<std::string> read_maybe_gzip(const std::string& path) {
  Result<std::string> file = read_file(path);
  if (!file.is_ok()) return file.status();
  const std::string& raw = file.value();
  if (raw.size() < 2 || static_cast<uint8_t>(raw[0]) != 0x1f ||
      static_cast<uint8_t>(raw[1]) != 0x8b)
    return raw;
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) return Status(ErrorCode::kIo, path + ": cannot open");
  std::string out;
  char buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0) {
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > kMaxBytes) break;
  }
  int err = 0;
  const char* msg = gzerror(f, &err);
  const bool bad = n < 0 || (err != Z_OK && err != Z_STREAM_END) || out.size() > kMaxBytes;
  std::string why = msg ? msg : "";
  gzclose(f);
  if (bad)
    return Status(ErrorCode::kCorrupt, path + ": gzip data is corrupt or too large (" + why + ")");
  return out;
}

uint32_t be32(const std::string& b, size_t at) {
  return uint32_t{static_cast<uint8_t>(b[at])} << 24 |
         uint32_t{static_cast<uint8_t>(b[at + 1])} << 16 |
         uint32_t{static_cast<uint8_t>(b[at + 2])} << 8 | uint32_t{static_cast<uint8_t>(b[at + 3])};
}

std::string existing(const std::string& base) {
  struct stat st {};
  if (::stat(base.c_str(), &st) == 0) return base;
  return base + ".gz";
}

}  // namespace

Result<IdxImages> read_idx_images(const std::string& path) {
  SQZ_ASSIGN_OR_RETURN(std::string b, read_maybe_gzip(path));
  SQZ_RETURN_ERROR_IF(b.size() < 16 || be32(b, 0) != 0x00000803, ErrorCode::kParse,
                      path + ": not an IDX image file (bad magic)");
  IdxImages out;
  out.count = be32(b, 4), out.rows = be32(b, 8), out.cols = be32(b, 12);
  SQZ_RETURN_ERROR_IF(out.rows < 1 || out.cols < 1 || out.rows > 4096 || out.cols > 4096,
                      ErrorCode::kCorrupt,
                      path + ": image size " + std::to_string(out.rows) + "x" +
                          std::to_string(out.cols) + " is invalid");
  SQZ_RETURN_ERROR_IF(
      static_cast<uint64_t>(out.count) * out.rows * out.cols != b.size() - 16, ErrorCode::kCorrupt,
      path + ": holds " + std::to_string(b.size() - 16) + " pixel bytes, its header says " +
          std::to_string(out.count * out.rows * out.cols));
  out.pixels.assign(b.begin() + 16, b.end());
  return out;
}

Result<std::vector<uint8_t>> read_idx_labels(const std::string& path) {
  SQZ_ASSIGN_OR_RETURN(std::string b, read_maybe_gzip(path));
  SQZ_RETURN_ERROR_IF(b.size() < 8 || be32(b, 0) != 0x00000801, ErrorCode::kParse,
                      path + ": not an IDX label file (bad magic)");
  SQZ_RETURN_ERROR_IF(be32(b, 4) != b.size() - 8, ErrorCode::kCorrupt,
                      path + ": holds " + std::to_string(b.size() - 8) +
                          " labels, its header says " + std::to_string(be32(b, 4)));
  return std::vector<uint8_t>(b.begin() + 8, b.end());
}

Result<Dataset> read_fashion_mnist(const std::string& dir, const std::string& split) {
  const std::string hint =
      " (Fashion-MNIST comes from Debian's package dataset-fashion-mnist: apt-get install "
      "dataset-fashion-mnist)";
  Dataset d;
  auto images = read_idx_images(existing(dir + "/" + split + "-images-idx3-ubyte"));
  if (!images.is_ok()) return Status(images.status().code(), images.status().message() + hint);
  auto labels = read_idx_labels(existing(dir + "/" + split + "-labels-idx1-ubyte"));
  if (!labels.is_ok()) return Status(labels.status().code(), labels.status().message() + hint);
  d.images = std::move(images).value();
  d.labels = std::move(labels).value();
  SQZ_RETURN_ERROR_IF(static_cast<int64_t>(d.labels.size()) != d.images.count, ErrorCode::kCorrupt,
                      dir + ": " + std::to_string(d.images.count) + " images but " +
                          std::to_string(d.labels.size()) + " labels" + hint);
  for (uint8_t l : d.labels)
    SQZ_RETURN_ERROR_IF(l > 9, ErrorCode::kCorrupt,
                        dir + ": label " + std::to_string(l) + " is not 0..9" + hint);
  return d;
}

}  // namespace sqz::train
