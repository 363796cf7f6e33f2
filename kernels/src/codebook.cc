#include "sqz/kernels/codebook.h"

extern "C" {
void sqz_decode_codes_avx512(const uint8_t*, int64_t, const float*, float*);
void sqz_decode_codes_avx2(const uint8_t*, int64_t, const float*, float*);
}

namespace sqz::kernels {

void decode_codes(const uint8_t* codes, int64_t n, const float* book, float* out, Isa isa) {
  const Machine& m = machine();
  const auto allowed = [&](Isa want) {
    return static_cast<int>(want) <= static_cast<int>(isa) &&
           static_cast<int>(want) <= static_cast<int>(m.best_isa);
  };
  if (allowed(Isa::kAvx512)) return sqz_decode_codes_avx512(codes, n, book, out);
  if (allowed(Isa::kAvx2)) return sqz_decode_codes_avx2(codes, n, book, out);
  ref::decode_codes(codes, n, book, out);  // the generic path is the naive loop
}

void decode_codes(const uint8_t* codes, int64_t n, const float* book, float* out) {
  const Machine& m = machine();
  decode_codes(codes, n, book, out, m.gathers_slowed ? Isa::kGeneric : m.isa);
}

namespace ref {

void decode_codes(const uint8_t* codes, int64_t n, const float* book, float* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = book[codes[i]];
}

}  // namespace ref
}  // namespace sqz::kernels
