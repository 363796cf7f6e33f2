#include "sqz/pipeline/labels.h"

#include <algorithm>
#include <filesystem>
#include <sstream>

#include "sqz/core/file_io.h"

namespace sqz::pipeline {

Result<Labels> read_labels(const std::string& path) {
  SQZ_ASSIGN_OR_RETURN(std::string text, read_file(path, size_t{16} << 20));
  Labels labels;
  std::istringstream in(text);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    const size_t space = line.find(' ');
    std::string wnid = line.substr(0, space);
    std::string name = space == std::string::npos ? wnid : line.substr(space + 1);
    if (!labels.index_of_wnid.emplace(wnid, static_cast<int>(labels.wnids.size())).second)
      return Status(ErrorCode::kParse,
                    path + ": line " + std::to_string(n) + ": class '" + wnid + "' listed twice");
    labels.wnids.push_back(wnid);
    labels.names.push_back(name);
  }
  if (labels.wnids.empty()) return Status(ErrorCode::kParse, path + ": no labels");
  return labels;
}

int label_from_filename(const Labels& labels, const std::string& path) {
  std::string base = std::filesystem::path(path).filename().string();
  auto it = labels.index_of_wnid.find(base.substr(0, base.find('_')));
  return it == labels.index_of_wnid.end() ? -1 : it->second;
}

Result<std::vector<std::string>> list_images(const std::string& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec))
    return Status(ErrorCode::kIo, dir + ": not a directory");
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    std::string ext = file_extension(entry.path().string());
    if (entry.is_regular_file() && (ext == ".jpg" || ext == ".jpeg" || ext == ".png"))
      files.push_back(entry.path().string());
  }
  if (ec) return Status(ErrorCode::kIo, dir + ": cannot list: " + ec.message());
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace sqz::pipeline
