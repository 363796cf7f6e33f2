// libFuzzer target: the .sqz reader must reject or accept any bytes without crashing.
#include <string_view>

#include "sqz/format/sqz_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)sqz::format::decode_sqz(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
