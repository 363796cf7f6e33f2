// Explicit little-endian encoding, byte by byte (cf. leveldb util/coding.h): never memcpy a
// struct to disk. ByteReader checks every read against the bytes left.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace sqz {

inline void put_u8(std::string* out, uint8_t v) { out->push_back(static_cast<char>(v)); }
inline void put_u16(std::string* out, uint16_t v) {
  for (int i = 0; i < 2; ++i) out->push_back(static_cast<char>(v >> (8 * i)));
}
inline void put_u32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>(v >> (8 * i)));
}
inline void put_u64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>(v >> (8 * i)));
}
inline void put_f32(std::string* out, float f) {
  uint32_t v;
  std::memcpy(&v, &f, 4);
  put_u32(out, v);
}

inline uint32_t load_u32(const uint8_t* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}
inline float load_f32(const uint8_t* p) {
  uint32_t v = load_u32(p);
  float f;
  std::memcpy(&f, &v, 4);
  return f;
}

// Sequential reader over a byte range. Every get_* returns false (and reads nothing) when
// fewer bytes are left than requested.
class ByteReader {
 public:
  explicit ByteReader(std::string_view bytes) : p_(bytes.data()), left_(bytes.size()) {}
  size_t left() const { return left_; }
  size_t offset(const char* base) const { return static_cast<size_t>(p_ - base); }
  bool get_u8(uint8_t* v) { return get_le(v, 1); }
  bool get_u16(uint16_t* v) { return get_le(v, 2); }
  bool get_u32(uint32_t* v) { return get_le(v, 4); }
  bool get_u64(uint64_t* v) { return get_le(v, 8); }
  bool get_f32(float* f) {
    uint32_t v;
    if (!get_u32(&v)) return false;
    std::memcpy(f, &v, 4);
    return true;
  }
  // A view of the next n bytes.
  bool get_bytes(size_t n, std::string_view* out) {
    if (n > left_) return false;
    *out = std::string_view(p_, n);
    p_ += n;
    left_ -= n;
    return true;
  }

 private:
  template <typename T>
  bool get_le(T* v, size_t n) {
    if (n > left_) return false;
    uint64_t x = 0;
    for (size_t i = 0; i < n; ++i) x |= uint64_t{static_cast<uint8_t>(p_[i])} << (8 * i);
    *v = static_cast<T>(x);
    p_ += n;
    left_ -= n;
    return true;
  }
  const char* p_;
  size_t left_;
};

}  // namespace sqz
