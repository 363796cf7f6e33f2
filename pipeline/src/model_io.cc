#include "sqz/pipeline/model_io.h"

#include <cstdio>
#include <filesystem>

#include "sqz/core/file_io.h"
#include "sqz/core/version.h"
#include "sqz/format/importers.h"

namespace sqz::pipeline {
namespace {

std::string fnv1a64_hex(const std::string& bytes) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : bytes) h = (h ^ c) * 1099511628211ull;
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

}  // namespace

Result<Model> load_any_model(const std::string& path, const std::string& prototxt,
                             format::Metadata* metadata, const format::ImportOptions& options) {
  return format::load_model(path, prototxt, options, metadata);
}

format::Metadata standard_metadata(const std::string& source_path, const std::string& pipeline) {
  format::Metadata md{{"producer", kProducer},
                      {"source", std::filesystem::path(source_path).filename().string()}};
  auto bytes = read_file(source_path);
  if (bytes.is_ok()) md.push_back({"source_fnv1a64", fnv1a64_hex(*bytes)});
  md.push_back({"pipeline", pipeline});
  return md;
}

}  // namespace sqz::pipeline
