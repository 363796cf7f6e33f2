#include "sqz/kernels/denormals.h"

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

namespace sqz::kernels {

#if defined(__x86_64__) || defined(__i386__)
namespace {
constexpr uint32_t kFlushToZero = 0x8000, kDenormalsAreZero = 0x0040;  // MXCSR bits 15 and 6
}  // namespace

DenormalsAsZero::DenormalsAsZero() : saved_(_mm_getcsr()) {
  _mm_setcsr(saved_ | kFlushToZero | kDenormalsAreZero);
}
DenormalsAsZero::~DenormalsAsZero() { _mm_setcsr(saved_); }
bool denormals_are_zero() {
  const uint32_t both = kFlushToZero | kDenormalsAreZero;
  return (_mm_getcsr() & both) == both;
}
#else
DenormalsAsZero::DenormalsAsZero() = default;
DenormalsAsZero::~DenormalsAsZero() = default;
bool denormals_are_zero() { return false; }
#endif

}  // namespace sqz::kernels
