#include "sqz/pipeline/image_split.h"

#include <algorithm>
#include <cstdio>
#include <set>
#include <sstream>

#include "sqz/core/crc32c.h"
#include "sqz/core/file_io.h"

namespace sqz::pipeline {
namespace {

Result<std::string> file_crc_hex(const std::string& path) {
  SQZ_ASSIGN_OR_RETURN(std::string bytes, read_file(path));
  char hex[9];
  std::snprintf(hex, sizeof hex, "%08x", crc32c(bytes.data(), bytes.size()));
  return std::string(hex);
}

}  // namespace

Result<Fold> parse_fold(const std::string& text, const std::string& flag) {
  Fold f;
  char tail = 0;
  if (std::sscanf(text.c_str(), "%d/%d%c", &f.index, &f.count, &tail) != 2 || f.count < 1 ||
      f.count > 1000 || f.index < 1 || f.index > f.count)
    return Status(ErrorCode::kInvalidArgument,
                  flag + " wants K/N with 1 <= K <= N (e.g. 1/2), not '" + text + "'");
  return f;
}

void split_by_fold(const std::vector<std::string>& files, Fold fold, std::vector<std::string>* in,
                   std::vector<std::string>* out) {
  for (size_t i = 0; i < files.size(); ++i) (in_fold(i, fold) ? in : out)->push_back(files[i]);
}

Result<std::string> fingerprint_files(const std::vector<std::string>& files) {
  std::string out;
  for (const std::string& f : files) {
    SQZ_ASSIGN_OR_RETURN(std::string hex, file_crc_hex(f));
    out += (out.empty() ? "" : " ") + hex;
  }
  return out;
}

void add_calibration_fingerprints(const std::string& fingerprints, format::Metadata* metadata) {
  constexpr size_t kPerEntry = 455 * 9 - 1;  // 455 CRCs of 8 hex digits and their spaces
  for (size_t at = 0; at < fingerprints.size();) {
    size_t end = std::min(fingerprints.size(), at + kPerEntry);
    if (end < fingerprints.size()) end = fingerprints.rfind(' ', end) + 1;
    metadata->push_back({kCalibrationKey, fingerprints.substr(at, end - at - (end < fingerprints.size()))});
    at = end;
  }
}

namespace {

bool is_fingerprint(const std::string& token) {  // as file_crc_hex writes them
  return token.size() == 8 && std::all_of(token.begin(), token.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// The fingerprints metadata lists; anything else in those entries (which no file of ours
// holds) can match no image and is dropped.
std::vector<std::string> listed_fingerprints(const format::Metadata& metadata) {
  std::vector<std::string> out;
  for (const auto& [key, value] : metadata) {
    if (key != kCalibrationKey) continue;
    std::istringstream in(value);
    for (std::string hex; in >> hex;)
      if (is_fingerprint(hex)) out.push_back(hex);
  }
  return out;
}

}  // namespace

void carry_calibration_fingerprints(const format::Metadata& from, format::Metadata* to) {
  std::vector<std::string> all = listed_fingerprints(*to);
  std::set<std::string> seen(all.begin(), all.end());
  const size_t before = all.size();
  for (const std::string& hex : listed_fingerprints(from))
    if (seen.insert(hex).second) all.push_back(hex);
  if (all.size() == before) return;  // `to` lists them all already
  to->erase(std::remove_if(to->begin(), to->end(),
                           [](const auto& entry) { return entry.first == kCalibrationKey; }),
            to->end());
  std::string joined;
  for (const std::string& hex : all) joined += (joined.empty() ? "" : " ") + hex;
  add_calibration_fingerprints(joined, to);
}

Result<std::vector<std::string>> calibration_overlap(const format::Metadata& metadata,
                                                     const std::vector<std::string>& files) {
  const std::vector<std::string> listed = listed_fingerprints(metadata);
  const std::set<std::string> used(listed.begin(), listed.end());
  std::vector<std::string> overlap;
  if (used.empty()) return overlap;
  for (const std::string& f : files) {
    SQZ_ASSIGN_OR_RETURN(std::string hex, file_crc_hex(f));
    if (used.count(hex)) overlap.push_back(f);
  }
  return overlap;
}

Status refuse_calibration_images(const std::string& model_path, const format::Metadata& metadata,
                                 const std::vector<std::string>& files) {
  SQZ_ASSIGN_OR_RETURN(auto overlap, calibration_overlap(metadata, files));
  SQZ_RETURN_ERROR_IF(!overlap.empty(), ErrorCode::kInvalidArgument,
                      overlap.front() + ": " + model_path + " was calibrated on this image (" +
                          std::to_string(overlap.size()) + " of the " +
                          std::to_string(files.size()) +
                          " given); measure on images it has not seen");
  return Status::ok();
}

}  // namespace sqz::pipeline
