// Hostile-input testing: .sqz files assembled from format/SPEC.md field by field (every
// checksum right), and running the CLI on them under a memory and a time cap.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace sqz::test {

// A .sqz taken apart (SPEC "File layout"): header fields and sections with their plain
// (decompressed) payloads. assemble() writes it back with zstd where `zstd` is set and every
// CRC32C recomputed; `raw`, when set, is stored as the payload as it is (for zstd attacks).
struct SqzParts {
  uint16_t major = 1, minor = 0;
  struct Section {
    uint16_t type = 0, flags = 0;
    std::string plain;
    bool zstd = false;
    std::string raw;
  };
  std::vector<Section> sections;
};

SqzParts take_apart(const std::string& sqz_bytes);
std::string assemble(const SqzParts& parts);

// Offsets of the fields of a plain GRAPH payload (SPEC "GRAPH").
struct GraphLayout {
  size_t input_rank = 0, input_dims = 0, layer_count = 0;
  struct Record {
    size_t start = 0, op = 0, name = 0, input_count = 0, output = 0, params = 0, end = 0;
  };
  std::vector<Record> records;
};
GraphLayout read_graph_layout(const std::string& graph);

// Little-endian field writers into a byte string (overwrite at an offset).
void poke_u8(std::string* s, size_t at, uint8_t v);
void poke_u16(std::string* s, size_t at, uint16_t v);
void poke_u32(std::string* s, size_t at, uint32_t v);

// One run of a program: exit code (-1 when killed: time cap exceeded or a signal), stderr,
// peak RSS in MiB (getrusage of the child) and wall seconds.
struct CappedRun {
  int exit_code = -1;
  int signal = 0;
  bool timed_out = false;
  std::string err;
  double peak_rss_mib = 0, seconds = 0;
};

// Runs command[0] with its arguments under an address-space cap of as_mib (not under
// AddressSanitizer, whose shadow memory needs the address space) and kills it after timeout_s
// seconds. The peak RSS is the command's own (measured by tests/peak_rss.cc).
CappedRun run_capped(const std::vector<std::string>& command, int64_t as_mib, double timeout_s);

}  // namespace sqz::test

namespace sqz::test {

// Checksum-valid .sqz files, each one field of a valid small file pushed to an edge (zero,
// negative, maximum, inconsistent with another field) as SPEC.md lays the fields out: (name,
// bytes) pairs, names unique. Some are still valid files (a newer minor version, an unknown
// optional section, a long chain of ReLUs within the layer limit).
std::vector<std::pair<std::string, std::string>> hostile_sqz_files();

// The valid file they start from: tiny_squeezenet(11, 19, 10, 0.6) at 4 bits, with metadata.
std::string hostile_base_sqz();

}  // namespace sqz::test
