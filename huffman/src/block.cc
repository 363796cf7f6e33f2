// Huffman block: table + 1 or 4 interleaved streams (format/SPEC.md, "Huffman block").
#include <algorithm>
#include <cstring>

#include "sqz/core/byte_io.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "the bit reader loads little-endian words");
#include "sqz/huffman/huffman.h"

namespace sqz::huffman {
namespace {

enum Mode : uint8_t { kEmpty = 0, kSingle = 1, kCoded = 2 };
constexpr size_t kFourStreamsFrom = 4096;  // symbols; fewer go in one stream
constexpr int kTableBits = 11;             // primary decode table; longer codes: slow path

uint32_t reverse_bits(uint32_t code, int len) {
  uint32_t r = 0;
  for (int i = 0; i < len; ++i) r |= ((code >> i) & 1u) << (len - 1 - i);
  return r;
}

class BitWriter {
 public:
  void put(uint32_t bits, int n) {
    buf_ |= uint64_t{bits} << count_;
    count_ += n;
    while (count_ >= 8) {
      out_.push_back(static_cast<char>(buf_ & 0xFF));
      buf_ >>= 8;
      count_ -= 8;
    }
  }
  std::string finish() {
    if (count_ > 0) out_.push_back(static_cast<char>(buf_ & 0xFF));
    buf_ = 0;
    count_ = 0;
    return std::move(out_);
  }

 private:
  std::string out_;
  uint64_t buf_ = 0;
  int count_ = 0;
};

size_t streams_for(size_t count) { return count >= kFourStreamsFrom ? 4 : 1; }

// mode, max length, extent, nibble-packed lengths.
size_t table_bytes(size_t extent) { return 1 + 1 + 2 + (extent + 1) / 2; }

// Reads LSB-first; past the end it supplies zero bits and counts them as overrun.
class BitReader {
 public:
  BitReader(const uint8_t* p, size_t n) : begin_(p), p_(p), end_(p + n) {}
  // Tops the buffer up to at least 56 bits (room for three codes of kMaxCodeLength): one
  // unaligned 8-byte load while 8 bytes remain, byte by byte (zeros past the end) near the end.
  [[gnu::always_inline]] void refill() {
    if (end_ - p_ >= 8) {
      uint64_t v;
      std::memcpy(&v, p_, 8);  // the stream is little-endian, as is every supported host
      buf_ |= v << count_;
      p_ += (63 - count_) >> 3;
      count_ |= 56;
      return;
    }
    while (count_ <= 56) {
      if (p_ < end_) {
        buf_ |= uint64_t{*p_++} << count_;
      } else {
        ++zero_bytes_;
      }
      count_ += 8;
    }
  }
  uint32_t peek(int n) const { return static_cast<uint32_t>(buf_ & ((uint64_t{1} << n) - 1)); }
  void skip(int n) {
    buf_ >>= n;
    count_ -= n;
  }
  // True when every bit read was inside the stream and the rest is < 8 zero padding bits.
  bool finished_cleanly() {
    const uint64_t size_bits = 8 * static_cast<uint64_t>(end_ - begin_);
    const uint64_t consumed = 8 * (static_cast<uint64_t>(p_ - begin_) + zero_bytes_) - count_;
    if (consumed > size_bits || size_bits - consumed >= 8) return false;
    refill();
    return peek(static_cast<int>(size_bits - consumed)) == 0;
  }

 private:
  const uint8_t* begin_;
  const uint8_t* p_;
  const uint8_t* end_;
  uint64_t zero_bytes_ = 0;  // zeros supplied past the end
  uint64_t buf_ = 0;
  int count_ = 0;
};

struct DecodeTable {
  int max_len = 0, bits = 0;
  std::vector<uint16_t> primary;  // symbol | len << 12; len 0: longer than `bits`
  // Canonical slow path (codes longer than the primary table).
  uint32_t first[kMaxCodeLength + 2] = {0};
  uint32_t count[kMaxCodeLength + 2] = {0};
  uint32_t offset[kMaxCodeLength + 2] = {0};
  std::vector<uint16_t> sorted;  // symbols by (length, symbol)
};

Status build_table(const std::vector<uint8_t>& lengths, int max_len, DecodeTable* t) {
  t->max_len = max_len;
  t->bits = std::min(max_len, kTableBits);
  uint64_t kraft = 0;  // in units of 2^-max_len
  int seen_max = 0;
  for (uint8_t l : lengths) {
    if (!l) continue;
    SQZ_RETURN_ERROR_IF(l > max_len, ErrorCode::kCorrupt, "Huffman code longer than its limit");
    kraft += uint64_t{1} << (max_len - l);
    ++t->count[l];
    seen_max = std::max<int>(seen_max, l);
  }
  SQZ_RETURN_ERROR_IF(kraft != (uint64_t{1} << max_len) || seen_max != max_len, ErrorCode::kCorrupt,
                      "Huffman table is not a complete prefix code");
  const std::vector<uint32_t> codes = canonical_codes(lengths);
  for (int len = 1, off = 0; len <= max_len; ++len) {
    t->offset[len] = static_cast<uint32_t>(off);
    off += static_cast<int>(t->count[len]);
  }
  t->sorted.assign(lengths.size(), 0);
  uint32_t fill[kMaxCodeLength + 2];
  std::memcpy(fill, t->offset, sizeof fill);
  for (size_t s = 0; s < lengths.size(); ++s) {
    if (!lengths[s]) continue;
    t->sorted[fill[lengths[s]]++] = static_cast<uint16_t>(s);
  }
  for (int len = 1; len <= max_len; ++len) {
    // First canonical code of each length: the smallest code among that length's symbols.
    t->first[len] = t->count[len] ? codes[t->sorted[t->offset[len]]] : 0;
  }
  t->primary.assign(size_t{1} << t->bits, 0);
  for (size_t s = 0; s < lengths.size(); ++s) {
    const int len = lengths[s];
    if (!len || len > t->bits) continue;
    const uint32_t rev = reverse_bits(codes[s], len);
    for (uint32_t hi = 0; hi < (1u << (t->bits - len)); ++hi)
      t->primary[rev | (hi << len)] = static_cast<uint16_t>(s | (len << 12));
  }
  return Status::ok();
}

// Codes longer than the primary table: walk the canonical code one bit at a time (the
// code's first bit is the stream's next bit).
[[gnu::noinline]] uint16_t decode_long(const DecodeTable& t, BitReader& r) {
  const uint32_t window = r.peek(t.max_len);
  uint32_t code = 0;
  for (int len = 1; len <= t.max_len; ++len) {
    code = (code << 1) | ((window >> (len - 1)) & 1u);
    if (code - t.first[len] < t.count[len]) {
      r.skip(len);
      return t.sorted[t.offset[len] + code - t.first[len]];
    }
  }
  r.skip(t.max_len);  // unreachable for a complete code; keeps the reader moving
  return 0;
}

// One symbol; the caller has refilled the reader since at most two symbols ago.
[[gnu::always_inline]] inline uint16_t decode_one(const DecodeTable& t, BitReader& r) {
  const uint16_t e = t.primary[r.peek(t.bits)];
  if (__builtin_expect(e >> 12, 1)) {
    r.skip(e >> 12);
    return e & 0x0FFF;
  }
  return decode_long(t, r);
}

// Decodes count symbols from 1 or 4 streams. Each refill leaves >= 56 bits, enough for three
// codes of at most 15 bits, so the reader refills once per three symbols.
template <typename Sym>
void decode_streams(const DecodeTable& t, BitReader* readers, int streams, size_t count, Sym* out) {
  auto three = [&](BitReader& r, Sym* o) {
    r.refill();
    o[0] = static_cast<Sym>(decode_one(t, r));
    o[1] = static_cast<Sym>(decode_one(t, r));
    o[2] = static_cast<Sym>(decode_one(t, r));
  };
  auto tail = [&](BitReader& r, Sym* o, size_t n) {
    for (size_t i = 0; i < n; ++i) {
      r.refill();
      o[i] = static_cast<Sym>(decode_one(t, r));
    }
  };
  if (streams == 1) {
    size_t i = 0;
    for (; i + 3 <= count; i += 3) three(readers[0], out + i);
    tail(readers[0], out + i, count - i);
    return;
  }
  // Four independent streams per step: their dependency chains overlap in the CPU.
  const size_t per = (count + 3) / 4;
  const size_t last = count - 3 * per;  // the last stream's share (<= per)
  BitReader r0 = readers[0], r1 = readers[1], r2 = readers[2], r3 = readers[3];
  Sym *o0 = out, *o1 = out + per, *o2 = out + 2 * per, *o3 = out + 3 * per;
  size_t i = 0;
  for (; i + 3 <= last; i += 3) {
    three(r0, o0 + i);
    three(r1, o1 + i);
    three(r2, o2 + i);
    three(r3, o3 + i);
  }
  tail(r3, o3 + i, last - i);
  tail(r0, o0 + i, per - i);
  tail(r1, o1 + i, per - i);
  tail(r2, o2 + i, per - i);
  readers[0] = r0, readers[1] = r1, readers[2] = r2, readers[3] = r3;
}

}  // namespace

size_t encoded_block_size(const std::vector<uint64_t>& histogram) {
  size_t used = 0, extent = 0, count = 0;
  for (size_t s = 0; s < histogram.size(); ++s)
    if (histogram[s]) ++used, extent = s + 1, count += histogram[s];
  if (used == 0) return 1;
  if (used == 1) return 3;
  const std::vector<uint8_t> lengths = code_lengths(histogram, kMaxCodeLength);
  const size_t streams = streams_for(count);
  return table_bytes(extent) + 1 + 4 * streams + (payload_bits(histogram, lengths) + 7) / 8 +
         (streams - 1);  // each stream may end with a partial byte
}

std::string encode_block(const std::vector<uint16_t>& symbols, int alphabet_size) {
  std::vector<uint64_t> hist(static_cast<size_t>(alphabet_size), 0);
  for (uint16_t s : symbols) ++hist[s];
  std::string out;
  size_t used = 0, extent = 0;
  for (size_t s = 0; s < hist.size(); ++s)
    if (hist[s]) ++used, extent = s + 1;
  if (used == 0) {
    put_u8(&out, kEmpty);
    return out;
  }
  if (used == 1) {
    put_u8(&out, kSingle);
    put_u16(&out, static_cast<uint16_t>(extent - 1));
    return out;
  }
  const std::vector<uint8_t> lengths = code_lengths(hist, kMaxCodeLength);
  const int max_len = *std::max_element(lengths.begin(), lengths.end());
  const std::vector<uint32_t> codes = canonical_codes(lengths);
  put_u8(&out, kCoded);
  put_u8(&out, static_cast<uint8_t>(max_len));
  put_u16(&out, static_cast<uint16_t>(extent));
  for (size_t s = 0; s < extent; s += 2)
    put_u8(&out, static_cast<uint8_t>(lengths[s] | (s + 1 < extent ? lengths[s + 1] << 4 : 0)));
  const size_t streams = streams_for(symbols.size());
  const size_t per = (symbols.size() + streams - 1) / streams;
  std::vector<std::string> payloads;
  for (size_t k = 0; k < streams; ++k) {
    BitWriter w;
    for (size_t i = k * per; i < std::min(symbols.size(), (k + 1) * per); ++i)
      w.put(reverse_bits(codes[symbols[i]], lengths[symbols[i]]), lengths[symbols[i]]);
    payloads.push_back(w.finish());
  }
  put_u8(&out, static_cast<uint8_t>(streams));
  for (const std::string& p : payloads) put_u32(&out, static_cast<uint32_t>(p.size()));
  for (const std::string& p : payloads) out += p;
  return out;
}

template <typename Sym>
Status decode_block_as(std::string_view block, int alphabet_size, size_t count, Sym* out) {
  ByteReader r(block);
  uint8_t mode;
  SQZ_RETURN_ERROR_IF(!r.get_u8(&mode), ErrorCode::kCorrupt, "Huffman block is empty");
  if (mode == kEmpty) {
    SQZ_RETURN_ERROR_IF(count != 0 || r.left() != 0, ErrorCode::kCorrupt,
                        "empty Huffman block where symbols were expected");
    return Status::ok();
  }
  if (mode == kSingle) {
    uint16_t sym;
    SQZ_RETURN_ERROR_IF(!r.get_u16(&sym) || r.left() != 0 || sym >= alphabet_size || count == 0,
                        ErrorCode::kCorrupt, "bad single-symbol Huffman block");
    std::fill(out, out + count, static_cast<Sym>(sym));
    return Status::ok();
  }
  SQZ_RETURN_ERROR_IF(mode != kCoded, ErrorCode::kCorrupt, "unknown Huffman block mode");
  uint8_t max_len;
  uint16_t extent;
  SQZ_RETURN_ERROR_IF(!r.get_u8(&max_len) || !r.get_u16(&extent) || max_len < 1 ||
                          max_len > kMaxCodeLength || extent < 2 || extent > alphabet_size,
                      ErrorCode::kCorrupt, "bad Huffman table header");
  std::string_view nibbles;
  SQZ_RETURN_ERROR_IF(!r.get_bytes((extent + 1u) / 2, &nibbles), ErrorCode::kCorrupt,
                      "truncated Huffman table");
  std::vector<uint8_t> lengths(extent);
  for (size_t s = 0; s < extent; ++s)
    lengths[s] = (static_cast<uint8_t>(nibbles[s / 2]) >> (4 * (s % 2))) & 0x0F;
  SQZ_RETURN_ERROR_IF(extent % 2 == 1 && (static_cast<uint8_t>(nibbles.back()) >> 4) != 0,
                      ErrorCode::kCorrupt, "Huffman table padding is not zero");
  DecodeTable table;
  SQZ_RETURN_IF_ERROR(build_table(lengths, max_len, &table));
  uint8_t streams;
  SQZ_RETURN_ERROR_IF(!r.get_u8(&streams) || streams != streams_for(count), ErrorCode::kCorrupt,
                      "bad Huffman stream count");
  uint32_t sizes[4];
  for (int k = 0; k < streams; ++k)
    SQZ_RETURN_ERROR_IF(!r.get_u32(&sizes[k]), ErrorCode::kCorrupt, "truncated Huffman block");
  uint64_t total = 0;
  for (int k = 0; k < streams; ++k) total += sizes[k];
  SQZ_RETURN_ERROR_IF(total != r.left(), ErrorCode::kCorrupt,
                      "Huffman stream sizes disagree with the block size");
  std::string_view rest;
  (void)r.get_bytes(r.left(), &rest);
  const auto* base = reinterpret_cast<const uint8_t*>(rest.data());
  std::vector<BitReader> readers;
  for (int k = 0, off = 0; k < streams; off += static_cast<int>(sizes[k]), ++k)
    readers.emplace_back(base + off, sizes[k]);
  decode_streams(table, readers.data(), streams, count, out);
  for (BitReader& br : readers)
    SQZ_RETURN_ERROR_IF(!br.finished_cleanly(), ErrorCode::kCorrupt,
                        "Huffman stream length disagrees with its symbols");
  return Status::ok();
}

Status decode_block(std::string_view block, int alphabet_size, size_t count, uint16_t* out) {
  return decode_block_as(block, alphabet_size, count, out);
}

Status decode_block(std::string_view block, int alphabet_size, size_t count, uint8_t* out) {
  SQZ_RETURN_ERROR_IF(alphabet_size > 256, ErrorCode::kInvalidArgument,
                      "a byte output holds alphabets of at most 256 symbols");
  return decode_block_as(block, alphabet_size, count, out);
}

}  // namespace sqz::huffman
