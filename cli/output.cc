#include "output.h"

#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <map>

#include "common.h"
#include "sqz/core/file_io.h"
#include "sqz/import/exporters.h"
#include "sqz/pipeline/model_io.h"

namespace sqz::cli {
namespace {

std::string replace_extension(const std::string& path, const std::string& ext) {
  return std::filesystem::path(path).replace_extension(ext).string();
}

}  // namespace

Status check_output_path(const std::string& out, bool force) {
  struct stat st {};
  if (!force && ::stat(out.c_str(), &st) == 0)
    return Status(ErrorCode::kInvalidArgument, out + ": already exists (use --force to overwrite)");
  if (::stat(out.c_str(), &st) == 0 && !S_ISREG(st.st_mode))
    return Status(ErrorCode::kInvalidArgument,
                  out + ": exists and is not a regular file; write to a file path");
  const std::filesystem::path dir = std::filesystem::path(out).parent_path();
  std::error_code ec;
  if (!dir.empty() && !std::filesystem::is_directory(dir, ec))
    return Status(ErrorCode::kIo, out + ": folder '" + dir.string() + "' does not exist");
  return Status::ok();
}

Result<format::SqzFile> write_sqz_file(const Model& model, const std::string& out,
                                       const format::Metadata& metadata, bool force,
                                       bool compare_with_zstd) {
  format::SqzEncodeOptions o;
  o.metadata = metadata;
  o.compare_with_zstd = compare_with_zstd;
  format::SqzFile f;
  SQZ_RETURN_IF_ERROR(pipeline::write_model(model, out, o, force, &f));
  return f;
}

Status write_model_file(const Model& model, const std::string& out, bool force,
                        const format::Metadata& metadata) {
  if (file_extension(out) == ".caffemodel")
    SQZ_RETURN_IF_ERROR(check_output_path(replace_extension(out, ".prototxt"), force));
  format::SqzEncodeOptions o;
  o.metadata = metadata;
  return pipeline::write_model(model, out, o, force);
}

Status write_files_together(const std::vector<std::pair<std::string, std::string>>& files,
                            bool force) {
  namespace fs = std::filesystem;
  std::vector<bool> existed;
  for (const auto& [path, bytes] : files) {
    std::error_code ec;
    const fs::file_status st = fs::symlink_status(path, ec);
    const bool exists = !ec && fs::exists(st);
    SQZ_RETURN_ERROR_IF(exists && !fs::is_regular_file(st), ErrorCode::kInvalidArgument,
                        path + ": exists and is not a regular file");
    SQZ_RETURN_ERROR_IF(exists && !force, ErrorCode::kInvalidArgument,
                        path + ": already exists (use --force to overwrite)");
    existed.push_back(exists);
  }
  for (size_t i = 0; i < files.size(); ++i) {
    Status s = write_file_atomic(files[i].first, files[i].second, force);
    if (s.is_ok()) continue;
    for (size_t j = 0; j < i; ++j)
      if (!existed[j]) std::remove(files[j].first.c_str());
    return s;
  }
  return Status::ok();
}

namespace {

// A ledger's bytes summed per layer and part (layers in file order), per part, and in all.
struct LedgerSums {
  std::vector<std::string> order;
  std::map<std::string, std::map<std::string, uint64_t>> by_layer;
  std::map<std::string, std::string> position_coding;
  std::map<std::string, uint64_t> totals;
  uint64_t sum = 0;
};

LedgerSums sum_ledger(const format::SqzFile& f) {
  LedgerSums s;
  for (const auto& r : f.ledger) {
    s.sum += r.bytes;
    s.totals[r.part] += r.bytes;
    if (r.layer.empty()) continue;
    if (!s.by_layer.count(r.layer)) s.order.push_back(r.layer);
    s.by_layer[r.layer][r.part] += r.bytes;
    if (r.part == "positions") s.position_coding[r.layer] = r.coding;
  }
  return s;
}

void print_ledger_json(const format::SqzFile& f, uint64_t sum) {
  std::printf("{\"file_bytes\": %llu, \"ledger_bytes\": %llu, \"rows\": [",
              (unsigned long long)f.file_bytes, (unsigned long long)sum);
  for (size_t i = 0; i < f.ledger.size(); ++i) {
    const auto& r = f.ledger[i];
    std::printf("%s\n  {\"layer\": %s, \"part\": %s, \"bytes\": %llu, \"coding\": %s",
                i ? "," : "", json_quote(r.layer).c_str(), json_quote(r.part).c_str(),
                (unsigned long long)r.bytes, json_quote(r.coding).c_str());
    if (r.entropy_bytes >= 0) std::printf(", \"entropy_bytes\": %.1f", r.entropy_bytes);
    if (r.zstd_bytes >= 0) std::printf(", \"zstd_bytes\": %lld", (long long)r.zstd_bytes);
    std::printf("}");
  }
  std::printf("],\n \"metadata\": {");
  for (size_t i = 0; i < f.metadata.size(); ++i)
    std::printf("%s\n  %s: %s", i ? "," : "", json_quote(f.metadata[i].first).c_str(),
                json_quote(f.metadata[i].second).c_str());
  std::printf("}}\n");
}

// The coded bytes of positions and values beside their order-0 entropy (and zstd's, when
// the encoder measured it).
void print_entropy_line(const format::SqzFile& f, std::map<std::string, uint64_t>& totals) {
  double ent_pos = 0, ent_val = 0;
  int64_t z_pos = 0, z_val = 0;
  bool have_ent = false, have_zstd = false;
  for (const auto& r : f.ledger) {
    if (r.entropy_bytes >= 0)
      have_ent = true, (r.part == "positions" ? ent_pos : ent_val) += r.entropy_bytes;
    if (r.zstd_bytes >= 0)
      have_zstd = true, (r.part == "positions" ? z_pos : z_val) += r.zstd_bytes;
  }
  if (!have_ent) return;
  std::printf(
      "positions: %llu bytes coded, order-0 entropy %.0f%s; values: %llu bytes coded, "
      "entropy %.0f%s\n",
      (unsigned long long)totals["positions"], ent_pos,
      have_zstd ? (", zstd -" + std::to_string(22) + " " + std::to_string(z_pos)).c_str() : "",
      (unsigned long long)totals["values"], ent_val,
      have_zstd ? (", zstd " + std::to_string(z_val)).c_str() : "");
}

}  // namespace

void print_ledger(const format::SqzFile& f, bool json) {
  LedgerSums s = sum_ledger(f);
  if (json) return print_ledger_json(f, s.sum);
  std::printf("%-22s %9s %8s %9s %10s %10s %9s  %s\n", "layer", "header", "bias", "codebook",
              "positions", "values", "total", "positions coded as");
  for (const std::string& name : s.order) {
    auto& p = s.by_layer[name];
    uint64_t t = 0;
    for (auto& [k, v] : p) t += v;
    std::printf("%-22s %9llu %8llu %9llu %10llu %10llu %9llu  %s\n", printable(name).c_str(),
                (unsigned long long)p["layer-header"], (unsigned long long)p["bias"],
                (unsigned long long)p["codebook"], (unsigned long long)p["positions"],
                (unsigned long long)p["values"], (unsigned long long)t,
                s.position_coding.count(name) ? s.position_coding[name].c_str() : "-");
  }
  std::printf(
      "\nfile header %llu + directory %llu + graph %llu + metadata %llu + trailer %llu bytes\n",
      (unsigned long long)s.totals["header"], (unsigned long long)s.totals["directory"],
      (unsigned long long)s.totals["graph"], (unsigned long long)s.totals["metadata"],
      (unsigned long long)s.totals["trailer"]);
  std::printf("total %llu bytes (file %llu bytes)\n", (unsigned long long)s.sum,
              (unsigned long long)f.file_bytes);
  print_entropy_line(f, s.totals);
}

}  // namespace sqz::cli
