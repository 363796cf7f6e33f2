// Microarchitecture names by CPUID family and model, for CPUs newer than Debian 12's
// libcpuinfo knows (it names a Zen 4 "unknown", and every later Zen "zen 3 or later"). The
// model ranges are Linux's: arch/x86/kernel/cpu/amd.c's "Figure out Zen generations" and
// arch/x86/include/asm/intel-family.h (family 6, the cores of the last decade).
#include "sqz/kernels/machine.h"

namespace sqz::kernels {
namespace {

struct Range {
  int family, first, last;
  const char* name;
};

constexpr Range kAmd[] = {
    {0x17, 0x00, 0x2f, "zen"},    {0x17, 0x50, 0x5f, "zen"},    {0x17, 0x30, 0x4f, "zen 2"},
    {0x17, 0x60, 0x7f, "zen 2"},  {0x17, 0x90, 0x91, "zen 2"},  {0x17, 0xa0, 0xaf, "zen 2"},
    {0x19, 0x00, 0x0f, "zen 3"},  {0x19, 0x20, 0x5f, "zen 3"},  {0x19, 0x10, 0x1f, "zen 4"},
    {0x19, 0x60, 0xaf, "zen 4"},  {0x1a, 0x00, 0x0f, "zen 5"},  {0x1a, 0x20, 0x2f, "zen 5"},
    {0x1a, 0x40, 0x4f, "zen 5"},  {0x1a, 0x70, 0x7f, "zen 5"},
};

struct Model {
  int model;
  const char* name;
};

// Family 6. 0x55 is told apart by stepping (below).
constexpr Model kIntel[] = {
    {0x3c, "haswell"},          {0x3f, "haswell"},          {0x45, "haswell"},
    {0x46, "haswell"},          {0x3d, "broadwell"},        {0x47, "broadwell"},
    {0x4f, "broadwell"},        {0x56, "broadwell"},        {0x4e, "skylake"},
    {0x5e, "skylake"},          {0x8e, "skylake (kaby/coffee/comet lake)"},
    {0x9e, "skylake (kaby/coffee lake)"},                   {0xa5, "skylake (comet lake)"},
    {0xa6, "skylake (comet lake)"},                         {0x66, "palm cove (cannon lake)"},
    {0x6a, "sunny cove (ice lake server)"},                 {0x6c, "sunny cove (ice lake server)"},
    {0x7d, "sunny cove (ice lake)"},                        {0x7e, "sunny cove (ice lake)"},
    {0x8c, "willow cove (tiger lake)"},                     {0x8d, "willow cove (tiger lake)"},
    {0xa7, "cypress cove (rocket lake)"},                   {0x8f, "golden cove (sapphire rapids)"},
    {0xcf, "raptor cove (emerald rapids)"},                 {0xad, "redwood cove (granite rapids)"},
    {0xae, "redwood cove (granite rapids)"},                {0x97, "golden cove + gracemont (alder lake)"},
    {0x9a, "golden cove + gracemont (alder lake)"},         {0xb7, "raptor cove + gracemont (raptor lake)"},
    {0xba, "raptor cove + gracemont (raptor lake)"},        {0xbf, "raptor cove + gracemont (raptor lake)"},
    {0xaa, "redwood cove + crestmont (meteor lake)"},       {0xac, "redwood cove + crestmont (meteor lake)"},
    {0xaf, "crestmont (sierra forest)"},                    {0xc5, "lion cove + skymont (arrow lake)"},
    {0xc6, "lion cove + skymont (arrow lake)"},             {0xbd, "lion cove + skymont (lunar lake)"},
};

}  // namespace

std::string uarch_from_cpuid(const std::string& vendor, int family, int model, int stepping) {
  if (vendor == "AMD") {
    for (const Range& r : kAmd)
      if (family == r.family && model >= r.first && model <= r.last) return r.name;
  } else if (vendor == "Intel" && family == 6) {
    // Skylake-SP, then Cascade Lake (steppings 5-7) and Cooper Lake (10-11) on one model.
    if (model == 0x55)
      return stepping >= 10 ? "cooper lake" : stepping >= 5 ? "cascade lake" : "skylake server";
    for (const Model& m : kIntel)
      if (model == m.model) return m.name;
  }
  return "";
}

}  // namespace sqz::kernels
