// CRC-32C (Castagnoli), as used by leveldb and iSCSI: CRC32C("123456789") = 0xE3069283.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sqz {

// Extends crc (0 for a fresh start) with n bytes.
uint32_t crc32c(const void* data, size_t n, uint32_t crc = 0);
// The table-driven version crc32c falls back to without SSE4.2 (exposed for tests).
uint32_t crc32c_portable(const void* data, size_t n, uint32_t crc = 0);

}  // namespace sqz
