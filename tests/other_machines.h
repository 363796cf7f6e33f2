// Machine descriptions of CPUs not at hand, for planning as on them
// (kernels::set_machine_for_testing): the caches and sharing libcpuinfo reports there, with
// this machine's ISA (the kernels in use follow the CPU and SQZ_ISA).
#pragma once

#include <cstdint>
#include <vector>

#include "sqz/kernels/machine.h"

namespace sqz::test {

struct Caches {
  const char* name;
  int64_t l1d, l2, l3;  // per instance, bytes; 0: not reported
  int l2_shared_by, l3_shared_by, cores;
  int smt = 1;  // logical processors a core (they share its L1d and L2)
};

inline const std::vector<Caches>& other_machines() {
  static const std::vector<Caches> all = {
      {"Ice Lake server", 48 << 10, 1280 << 10, 54 << 20, 1, 64, 32},
      {"Sapphire Rapids", 48 << 10, 2 << 20, 105 << 20, 1, 112, 56},
      {"Skylake client", 32 << 10, 256 << 10, 8 << 20, 1, 8, 4},
      {"Zen 2", 32 << 10, 512 << 10, 16 << 20, 2, 8, 4, 2},
      // A cloud VM's 2 vCPUs as one core's two hyperthreads (lscpu: 2 threads per core).
      {"Ice Lake server, 2 vCPUs of one core", 48 << 10, 1280 << 10, 54 << 20, 2, 2, 1, 2},
      {"Gracemont cluster (L2 shared by 4)", 32 << 10, 2 << 20, 0, 4, 1, 4},
      {"nothing reported", 0, 0, 0, 1, 1, 1},
      {"tiny caches", 8 << 10, 64 << 10, 0, 1, 1, 2},
      {"implausible L1d, huge L2", 64 << 20, 256 << 20, 0, 1, 1, 2},
  };
  return all;
}

// This machine with `c`'s caches, sharing and cores.
inline kernels::Machine described(const Caches& c) {
  kernels::Machine m = kernels::machine();
  m.model_name = c.name;
  m.l1d_bytes = c.l1d, m.l2_bytes = c.l2, m.l3_bytes = c.l3;
  m.l1d_shared_by = c.smt, m.l2_shared_by = c.l2_shared_by, m.l3_shared_by = c.l3_shared_by;
  m.cores = c.cores, m.logical_processors = c.cores * c.smt;
  return m;
}

// Plans as on `m` while in scope.
struct MachineScope {
  explicit MachineScope(const kernels::Machine* m) { kernels::set_machine_for_testing(m); }
  ~MachineScope() { kernels::set_machine_for_testing(nullptr); }
  MachineScope(const MachineScope&) = delete;
  MachineScope& operator=(const MachineScope&) = delete;
};

}  // namespace sqz::test
