// libFuzzer target: the .sqz reader must reject or accept any bytes without crashing, both as
// the pipeline reads it (float32 weights) and as the runtime does (codes only); a file one
// accepts the other accepts too.
#include <cstdlib>
#include <string_view>

#include "sqz/format/sqz_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  sqz::format::SqzDecodeOptions codes_only;
  codes_only.dense_weights = false;
  const bool dense = sqz::format::decode_sqz(bytes).is_ok();
  const bool codes = sqz::format::decode_sqz(bytes, codes_only).is_ok();
  if (dense != codes) std::abort();
  return 0;
}
