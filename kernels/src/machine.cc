#include "sqz/kernels/machine.h"

#include <cpuinfo.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace sqz::kernels {
namespace {

const char* vendor_name(enum cpuinfo_vendor v) {
  switch (v) {
    case cpuinfo_vendor_intel:
      return "Intel";
    case cpuinfo_vendor_amd:
      return "AMD";
    case cpuinfo_vendor_arm:
      return "ARM";
    default:
      return "unknown";
  }
}

// The names libcpuinfo (Debian 12's) knows for the x86 server and desktop cores of the last
// decade; others print as their number.
std::string uarch_name(enum cpuinfo_uarch u) {
  switch (u) {
    case cpuinfo_uarch_haswell:
      return "haswell";
    case cpuinfo_uarch_broadwell:
      return "broadwell";
    case cpuinfo_uarch_sky_lake:
      return "skylake";
    case cpuinfo_uarch_palm_cove:
      return "palm cove";
    case cpuinfo_uarch_sunny_cove:
      return "sunny cove (ice lake)";
    case cpuinfo_uarch_zen:
      return "zen";
    case cpuinfo_uarch_zen2:
      return "zen 2";
    case cpuinfo_uarch_zen3:
      return "zen 3 or later";
    case cpuinfo_uarch_unknown:
      return "unknown";
    default: {
      char b[24];
      std::snprintf(b, sizeof b, "0x%08x", static_cast<unsigned>(u));
      return b;
    }
  }
}

void read_cpuid(Machine* m) {
#if defined(__x86_64__) || defined(__i386__)
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (__get_cpuid(1, &a, &b, &c, &d)) {
    const unsigned base_family = (a >> 8) & 0xf, base_model = (a >> 4) & 0xf;
    m->family =
        static_cast<int>(base_family == 0xf ? base_family + ((a >> 20) & 0xff) : base_family);
    m->model = static_cast<int>(base_family == 0x6 || base_family == 0xf
                                    ? base_model + (((a >> 16) & 0xf) << 4)
                                    : base_model);
    m->stepping = static_cast<int>(a & 0xf);
  }
  // AMX-TILE: CPUID.(EAX=7, ECX=0):EDX[24] (Intel SDM vol. 2A, CPUID); Debian 12's
  // libcpuinfo predates it.
  if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) m->amx_tile = (d >> 24) & 1;
#endif
}

void read_caches(Machine* m) {
  if (cpuinfo_get_l1d_caches_count() > 0) {
    m->l1d_bytes = cpuinfo_get_l1d_cache(0)->size;
    m->l1d_shared_by =
        std::max<int>(1, static_cast<int>(cpuinfo_get_l1d_cache(0)->processor_count));
  }
  if (cpuinfo_get_l2_caches_count() > 0) {
    m->l2_bytes = cpuinfo_get_l2_cache(0)->size;
    m->l2_shared_by = std::max<int>(1, static_cast<int>(cpuinfo_get_l2_cache(0)->processor_count));
  }
  if (cpuinfo_get_l3_caches_count() > 0) {
    m->l3_bytes = cpuinfo_get_l3_cache(0)->size;
    m->l3_shared_by = std::max<int>(1, static_cast<int>(cpuinfo_get_l3_cache(0)->processor_count));
  }
}

// SQZ_ISA lowers the ISA the kernels use; it can never raise it past what the CPU runs.
void apply_isa_override(Machine* m) {
  m->isa = m->best_isa;
  m->isa_source = "cpu";
  const char* env = std::getenv("SQZ_ISA");
  if (!env || !*env) return;
  const std::string want = env;
  Isa isa;
  if (want == "generic") {
    isa = Isa::kGeneric;
  } else if (want == "avx2") {
    isa = Isa::kAvx2;
  } else if (want == "avx512") {
    isa = Isa::kAvx512;
  } else {
    m->isa_error = "SQZ_ISA='" + want.substr(0, 32) + "' is not generic, avx2 or avx512";
    m->isa_unknown = true;
    return;
  }
  if (static_cast<int>(isa) > static_cast<int>(m->best_isa)) {
    m->isa_error = "SQZ_ISA=" + want + " is not supported by this CPU (it runs up to " +
                   isa_name(m->best_isa) + ")";
    return;
  }
  m->isa = isa;
  m->isa_source = "SQZ_ISA=" + want;
}

// Linux's report on Gather Data Sampling: "Mitigation: Microcode" (or "...: AVX disabled, no
// microcode") where gathers are slowed or gone; "Not affected" or "Vulnerable" where not.
bool gathers_mitigated() {
  std::FILE* f = std::fopen("/sys/devices/system/cpu/vulnerabilities/gather_data_sampling", "r");
  if (!f) return false;
  char line[128] = {};
  const bool read = std::fgets(line, sizeof line, f) != nullptr;
  std::fclose(f);
  return read && std::strncmp(line, "Mitigation", 10) == 0;
}

Machine read_machine() {
  Machine m;
  if (cpuinfo_initialize()) {
    const cpuinfo_package* p = cpuinfo_get_package(0);
    if (p) m.model_name = std::string(p->name, strnlen(p->name, CPUINFO_PACKAGE_NAME_MAX));
    const cpuinfo_core* core = cpuinfo_get_core(0);
    if (core) m.vendor = vendor_name(core->vendor), m.uarch = uarch_name(core->uarch);
    m.cores = std::max<int>(1, static_cast<int>(cpuinfo_get_cores_count()));
    m.logical_processors = std::max<int>(1, static_cast<int>(cpuinfo_get_processors_count()));
#if CPUINFO_ARCH_X86 || CPUINFO_ARCH_X86_64
    m.fma = cpuinfo_has_x86_fma3();
    m.avx2 = cpuinfo_has_x86_avx2();
    m.avx512f = cpuinfo_has_x86_avx512f();
    m.avx512vnni = cpuinfo_has_x86_avx512vnni();
    m.avx512bf16 = cpuinfo_has_x86_avx512bf16();
#endif
    read_caches(&m);
  }
  read_cpuid(&m);
  m.gathers_slowed = gathers_mitigated();
  if (m.model_name.empty()) m.model_name = "unknown";
  if (m.vendor.empty()) m.vendor = "unknown";
  // A CPU newer than libcpuinfo: named from CPUID's family and model instead.
  if (m.uarch.empty() || m.uarch == "unknown" || m.uarch == "zen 3 or later") {
    const std::string named = uarch_from_cpuid(m.vendor, m.family, m.model, m.stepping);
    if (!named.empty()) m.uarch = named + " (by cpuid)";
  }
  if (m.uarch.empty()) m.uarch = "unknown";
  // The kernels' ISA levels as the GEMM and SpMM tiles are compiled (runtime/CMakeLists.txt).
  m.best_isa = m.avx512f && m.fma ? Isa::kAvx512 : m.avx2 && m.fma ? Isa::kAvx2 : Isa::kGeneric;
  apply_isa_override(&m);
  return m;
}

std::string kib(int64_t bytes) {
  if (bytes <= 0) return "?";
  return bytes >= (int64_t{1} << 20) && bytes % (int64_t{1} << 20) == 0
             ? std::to_string(bytes >> 20) + " MiB"
             : std::to_string(bytes >> 10) + " KiB";
}

}  // namespace

namespace {

const Machine& real_machine() {
  static const Machine m = read_machine();
  return m;
}

std::atomic<const Machine*> machine_for_testing{nullptr};

}  // namespace

const Machine& machine() {
  if (const Machine* m = machine_for_testing.load(std::memory_order_acquire)) return *m;
  return real_machine();
}

void set_machine_for_testing(const Machine* m) {
  static Machine copy;
  if (!m) return machine_for_testing.store(nullptr, std::memory_order_release);
  const Machine& real = real_machine();
  copy = *m;
  copy.fma = real.fma, copy.avx2 = real.avx2, copy.avx512f = real.avx512f;
  copy.avx512vnni = real.avx512vnni, copy.avx512bf16 = real.avx512bf16;
  copy.amx_tile = real.amx_tile;
  copy.best_isa = real.best_isa, copy.isa = real.isa;
  copy.isa_source = real.isa_source, copy.isa_error = real.isa_error;
  copy.isa_unknown = real.isa_unknown, copy.gathers_slowed = real.gathers_slowed;
  machine_for_testing.store(&copy, std::memory_order_release);
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::kAvx512:
      return "avx512";
    case Isa::kAvx2:
      return "avx2";
    case Isa::kGeneric:
      return "generic";
  }
  return "generic";
}

std::string describe_machine(const Machine& m) {
  std::string isa = m.fma ? "fma" : "";
  for (const auto& [on, name] :
       {std::pair{m.avx2, "avx2"}, std::pair{m.avx512f, "avx512f"},
        std::pair{m.avx512vnni, "avx512vnni"}, std::pair{m.avx512bf16, "avx512bf16"},
        std::pair{m.amx_tile, "amx-tile"}})
    if (on) isa += (isa.empty() ? "" : " ") + std::string(name);
  std::string out = "cpu: " + m.vendor + " " + m.model_name + " (uarch " + m.uarch + ", family " +
                    std::to_string(m.family) + " model " + std::to_string(m.model) + " stepping " +
                    std::to_string(m.stepping) + ")\n";
  out += "isa: " + (isa.empty() ? std::string("baseline") : isa) + "; kernels " + isa_name(m.isa) +
         " (" + m.isa_source + ")" + (m.isa_error.empty() ? "" : "; ignored: " + m.isa_error) +
         (m.gathers_slowed ? "; gathers slowed by microcode (GDS)" : "") + "\n";
  out += "caches: L1d " + kib(m.l1d_bytes) + " per " + std::to_string(m.l1d_shared_by) +
         " logical, L2 " + kib(m.l2_bytes) + " per " + std::to_string(m.l2_shared_by) +
         " logical, L3 " + kib(m.l3_bytes) + " per " + std::to_string(m.l3_shared_by) +
         " logical\n";
  out += "cores: " + std::to_string(m.cores) + " (" + std::to_string(m.logical_processors) +
         " logical processors)\n";
  return out;
}

std::vector<MachineFact> machine_facts(const Machine& m) {
  auto text = [](const char* name, std::string v) { return MachineFact{name, false, 0, v}; };
  auto number = [](const char* name, int64_t v) { return MachineFact{name, true, v, {}}; };
  return {text("vendor", m.vendor),
          text("cpu", m.model_name),
          text("uarch", m.uarch),
          number("cpuid_family", m.family),
          number("cpuid_model", m.model),
          text("kernels_isa", isa_name(m.isa)),
          text("kernels_isa_source", m.isa_source),
          number("gathers_slowed", m.gathers_slowed ? 1 : 0),
          number("l1d_bytes", m.l1d_bytes),
          number("l1d_shared_by", m.l1d_shared_by),
          number("l2_bytes", m.l2_bytes),
          number("l2_shared_by", m.l2_shared_by),
          number("l3_bytes", m.l3_bytes),
          number("l3_shared_by", m.l3_shared_by),
          number("cores", m.cores),
          number("logical_processors", m.logical_processors)};
}

int64_t l2_per_thread(const Machine& m) {
  return std::max<int64_t>(int64_t{256} << 10, m.l2_bytes / std::max(1, m.l2_shared_by));
}

int64_t l1d_size(const Machine& m) {
  const bool plausible = m.l1d_bytes >= (int64_t{4} << 10) && m.l1d_bytes <= (int64_t{1} << 20);
  return plausible ? m.l1d_bytes : int64_t{32} << 10;
}

// A core's SMT threads share its L1d (Intel's Optimization Reference Manual, the chapter on
// multicore and Hyper-Threading Technology; AMD's Zen software optimization guides likewise):
// two threads filling it with a K chunk each would evict each other's B rows, and the SpMM's
// loads would come from L2 (about a line a cycle, against two loads a cycle from L1). Without
// SMT (one logical processor a core) this is l1d_size; with it, the cost on one thread (its
// sibling idle) is a chunk half as long, 3.6% of a pass on a Zen 4 (docs/performance-log.md).
// An x86 core's L1d is its own, so no more logical processors share one than a core runs:
// a hypervisor that passes the host's cache leaf through (shared by 2) while it gives each vCPU
// a core of its own would otherwise halve the chunks for nothing.
int64_t l1d_per_thread(const Machine& m) {
  const int per_core = (std::max(m.logical_processors, 1) + std::max(m.cores, 1) - 1) /
                       std::max(m.cores, 1);
  const int sharing = std::clamp(std::min(m.l1d_shared_by, per_core), 1, 8);
  return std::max<int64_t>(int64_t{4} << 10, l1d_size(m) / sharing);
}

}  // namespace sqz::kernels
