// The machine the runtime plans for, read once: vendor, model, microarchitecture, the ISA
// extensions the kernels can use, the cache sizes per level and how many logical processors
// share each, and the core count (from libcpuinfo, the library XNNPACK and PyTorch use for
// this). Blocking parameters are derived from it rather than tuned to one CPU.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sqz::kernels {

// Which micro-kernels the runtime may use, widest first. kAuto: the widest the CPU runs.
enum class Isa { kGeneric = 0, kAvx2 = 1, kAvx512 = 2 };

struct Machine {
  std::string vendor;                       // "AMD", "Intel", ...
  std::string model_name;                   // the package's name, e.g. "AMD EPYC 9R14"
  std::string uarch;                        // libcpuinfo's microarchitecture, or "unknown"
  int family = 0, model = 0, stepping = 0;  // CPUID leaf 1 (x86)
  bool fma = false, avx2 = false, avx512f = false, avx512vnni = false, avx512bf16 = false,
       amx_tile = false;
  // Per cache instance, bytes (0: not reported), and the logical processors sharing one.
  int64_t l1d_bytes = 0, l2_bytes = 0, l3_bytes = 0;
  int l1d_shared_by = 1, l2_shared_by = 1, l3_shared_by = 1;  // 2 for a core's SMT threads
  int cores = 1, logical_processors = 1;
  // The kernel reports gathers mitigated in microcode (Linux's sysfs entry for Intel's Gather
  // Data Sampling, "Downfall", 2023: Skylake to Ice Lake and Tiger Lake), which makes AVX2 and
  // AVX-512 gathers several times slower: codebook decoding then takes the scalar loop.
  bool gathers_slowed = false;
  Isa best_isa = Isa::kGeneric;  // the widest the CPU runs
  Isa isa = Isa::kGeneric;       // the widest the runtime uses (best_isa, or SQZ_ISA below it)
  std::string isa_source;        // "cpu", or "SQZ_ISA=avx2" when the environment lowered it
  std::string isa_error;         // SQZ_ISA that could not be honoured (unknown, or not run here)
  bool isa_unknown = false;      // SQZ_ISA names none of generic, avx2, avx512 (a typo)
};

// Read once, on first use. SQZ_ISA=generic|avx2|avx512 in the environment lowers `isa` so
// that each kernel path can be benchmarked and tested on any CPU that runs it. It is a cap, as
// oneDNN's ONEDNN_MAX_CPU_ISA: an ISA the CPU cannot run leaves `isa` at best_isa and sets
// isa_error; so does a misspelt one, which also sets isa_unknown (runtime::Net::create and
// the clients refuse it: a benchmark labelled with an ISA must have run it).
const Machine& machine();

// For tests: plan as if on a machine of `m`'s caches, sharing and core counts (nullptr: the
// real one again), so that the blocking derived from them is tried on CPUs not at hand. Its
// ISA fields are replaced by the real machine's: the kernels in use follow the CPU and SQZ_ISA.
// Call it before planning, never while another thread plans.
void set_machine_for_testing(const Machine* m);

// "generic", "avx2", "avx512".
const char* isa_name(Isa isa);

// The microarchitecture of an x86 CPU by its CPUID vendor ("AMD", "Intel"), family, model
// and stepping, or "" for one the table does not list: the name when libcpuinfo has none.
std::string uarch_from_cpuid(const std::string& vendor, int family, int model, int stepping);

// One line per fact (model, uarch, ISA, caches, cores), for bench -v and bench/peer.sh.
std::string describe_machine(const Machine& m);

// The same facts as named values, for machine-readable records (the CLI's JSON, Python's
// squeeze_compress.machine()): a number where `is_number`, else `text`.
struct MachineFact {
  const char* name;
  bool is_number;
  int64_t number;
  std::string text;
};
std::vector<MachineFact> machine_facts(const Machine& m);

// Bytes of L2 one thread can count on (its cache's size over the processors sharing it), with
// a 256 KiB floor for CPUs that report none.
int64_t l2_per_thread(const Machine& m);

// Bytes of one core's L1 data cache: as reported, or 32 KiB when none (or an implausible size
// outside 4 KiB..1 MiB) is.
int64_t l1d_size(const Machine& m);

// Bytes of L1d one thread can count on: l1d_size over the logical processors sharing it (a
// core's SMT threads, at most logical_processors / cores), as l2_per_thread, whatever the
// thread count, so that the SpMM's K chunk (which sets where its sums round) is the same at
// every thread count on one machine.
int64_t l1d_per_thread(const Machine& m);

}  // namespace sqz::kernels
