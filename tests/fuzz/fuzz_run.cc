// libFuzzer target: a .sqz the reader accepts must plan and run, its outputs those of the
// naive twins (run_oracle.h); the input's last byte picks the policy, threads, batch and split.
#include <cstdint>
#include <string_view>

#include "run_oracle.h"
#include "sqz/format/sqz_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  sqz::format::SqzDecodeOptions codes_only;
  codes_only.dense_weights = false;
  auto decoded = sqz::format::decode_sqz(bytes, codes_only);
  auto dense = sqz::format::decode_sqz(bytes);
  if (!decoded.is_ok() || !dense.is_ok()) return 0;
  sqz_fuzz::check_runtime(decoded.value().model, dense.value().model, data[size - 1]);
  return 0;
}
