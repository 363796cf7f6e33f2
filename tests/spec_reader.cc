#include "spec_reader.h"

#include <zstd.h>

#include <cmath>
#include <cstring>
#include <map>
#include <stdexcept>

namespace sqz::spec {
namespace {

[[noreturn]] void bad(const std::string& why) { throw std::runtime_error(why); }

struct In {
  const std::string& b;
  size_t at = 0, end;
  In(const std::string& bytes, size_t from, size_t to) : b(bytes), at(from), end(to) {}
  uint64_t n(int bytes) {
    if (end - at < static_cast<size_t>(bytes)) bad("truncated");
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v |= uint64_t{static_cast<uint8_t>(b[at + i])} << (8 * i);
    at += bytes;
    return v;
  }
  float f() {
    uint32_t v = static_cast<uint32_t>(n(4));
    float x;
    std::memcpy(&x, &v, 4);
    return x;
  }
  // IEEE binary16, from its definition (not through any library's half type).
  float h() {
    const auto v = static_cast<uint32_t>(n(2));
    const int sign = v >> 15, exponent = (v >> 10) & 31, fraction = v & 1023;
    if (exponent == 31) bad("non-finite binary16");
    const double magnitude =
        exponent == 0 ? std::ldexp(fraction, -24) : std::ldexp(1024 + fraction, exponent - 25);
    return static_cast<float>(sign ? -magnitude : magnitude);
  }
  // f32, or f16 when the LAYER's float_coding is 1.
  float f(bool half) { return half ? h() : f(); }
  std::string s() {
    size_t len = n(2);
    if (len > 4096 || end - at < len) bad("string");
    std::string r = b.substr(at, len);
    at += len;
    return r;
  }
};

uint32_t crc(const std::string& b, size_t from, size_t to) {
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = from; i < to; ++i) {
    c ^= static_cast<uint8_t>(b[i]);
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1u)));
  }
  return ~c;
}

// Huffman block: canonical codes, decoded bit by bit.
std::vector<int> huffman(const std::string& b, size_t from, size_t to, int alphabet, size_t count) {
  In in(b, from, to);
  int mode = static_cast<int>(in.n(1));
  if (mode == 0) return {};
  if (mode == 1) return std::vector<int>(count, static_cast<int>(in.n(2)));
  if (mode != 2) bad("mode");
  int max_len = static_cast<int>(in.n(1));
  int extent = static_cast<int>(in.n(2));
  if (extent > alphabet) bad("extent");
  std::vector<int> len(extent);
  for (int s = 0; s < extent; s += 2) {
    int byte = static_cast<int>(in.n(1));
    len[s] = byte & 15;
    if (s + 1 < extent) len[s + 1] = byte >> 4;
  }
  // Canonical assignment: by length, then symbol.
  std::map<std::pair<int, int>, int> code_to_symbol;  // (length, code) -> symbol
  int code = 0;
  for (int l = 1; l <= max_len; ++l) {
    for (int s = 0; s < extent; ++s)
      if (len[s] == l) code_to_symbol[{l, code++}] = s;
    code <<= 1;
  }
  int streams = static_cast<int>(in.n(1));
  std::vector<size_t> sizes(streams);
  for (size_t& z : sizes) z = in.n(4);
  std::vector<int> out;
  const size_t q = (count + streams - 1) / streams;
  size_t start = in.at;
  for (int k = 0; k < streams; ++k) {
    size_t bit = 0;
    for (size_t i = k * q; i < std::min(count, (k + 1) * q); ++i) {
      int c = 0, l = 0;
      for (;;) {
        if (bit / 8 >= sizes[k]) bad("stream overrun");
        c = (c << 1) | ((static_cast<uint8_t>(b[start + bit / 8]) >> (bit % 8)) & 1);
        ++bit, ++l;
        auto it = code_to_symbol.find({l, c});
        if (it != code_to_symbol.end()) {
          out.push_back(it->second);
          break;
        }
        if (l > 15) bad("no code");
      }
    }
    start += sizes[k];
  }
  return out;
}

}  // namespace

std::vector<ConvWeights> read(const std::string& b) {
  if (b.size() < 20 || b.compare(0, 8, std::string("\x89SQZ\r\n\x1a\n", 8)) != 0) bad("magic");
  In h(b, 8, b.size());
  if (h.n(2) != 1) bad("version");
  h.n(2);
  const size_t sections = h.n(4);
  if (crc(b, 0, b.size() - 4) != In(b, b.size() - 4, b.size()).n(4)) bad("file crc");
  struct Entry {
    int type, flags;
    uint32_t crc;
    size_t size, at;
  };
  std::vector<Entry> dir(sections);
  size_t at = 16 + 12 * sections;
  for (Entry& e : dir) {
    e.type = static_cast<int>(h.n(2));
    e.flags = static_cast<int>(h.n(2));
    e.crc = static_cast<uint32_t>(h.n(4));
    e.size = h.n(4);
    e.at = at;
    at += e.size;
  }
  if (at + 4 != b.size()) bad("sizes");
  // GRAPH: keep what the weights need (conv parameters, input channels per layer).
  struct Conv {
    std::string name, input;
    int64_t out, kh, kw, groups;
    bool bias;
  };
  std::vector<Conv> layers;  // per graph layer; non-convs have out = -1
  std::map<std::string, int64_t> channels;
  std::vector<ConvWeights> result;
  std::map<size_t, size_t> result_of_layer;
  for (const Entry& e : dir) {
    if (crc(b, e.at, e.at + e.size) != e.crc) bad("section crc");
    std::string plain = b.substr(e.at, e.size);
    if (e.flags & 2) {
      std::string z = plain;
      plain.assign(ZSTD_getFrameContentSize(z.data(), z.size()), '\0');
      if (ZSTD_isError(ZSTD_decompress(plain.data(), plain.size(), z.data(), z.size())))
        bad("zstd");
    }
    In in(plain, 0, plain.size());
    if (e.type == 1) {
      in.s();
      std::string input = in.s();
      int rank = static_cast<int>(in.n(1));
      std::vector<int64_t> shape(rank);
      for (auto& d : shape) d = static_cast<int64_t>(in.n(4));
      channels[input] = shape[1];
      in.s();
      size_t count = in.n(4);
      for (size_t i = 0; i < count; ++i) {
        int op = static_cast<int>(in.n(1));
        Conv c{in.s(), "", -1, 0, 0, 1, false};
        int inputs = static_cast<int>(in.n(1));
        std::vector<std::string> ins(inputs);
        for (auto& s : ins) s = in.s();
        std::string out = in.s();
        c.input = ins[0];
        int64_t ch = 0;
        for (auto& s : ins) ch += channels[s];
        if (op == 1) {
          c.out = static_cast<int64_t>(in.n(4));
          c.kh = static_cast<int64_t>(in.n(4));
          c.kw = static_cast<int64_t>(in.n(4));
          for (int k = 0; k < 4; ++k) in.n(4);
          c.groups = static_cast<int64_t>(in.n(4));
          const auto flags = in.n(1);
          if (flags > 3) bad("convolution flags");
          c.bias = flags & 1;
          if (flags & 2) in.n(4), in.n(4);  // asymmetric padding (1.3)
          ch = c.out;
        } else if (op == 3 || op == 4) {
          for (int k = 0; k < 6; ++k) in.n(4);
          const auto flags = in.n(1);
          if (flags > 15) bad("pooling flags");
          if (flags & 8) in.n(4), in.n(4);  // asymmetric padding (1.3)
        } else if (op == 5 || op == 7 || op == 8) {
          in.n(4);
        } else if (op != 2 && op != 6 && op != 9) {  // ReLU, Dropout, Add (1.3): no parameters
          bad("op");
        }
        if (op == 8) ch = 0;  // flatten: nothing after it has weights in our samples
        channels[out] = op == 5 ? ch : (op == 1 ? c.out : channels[ins[0]]);
        layers.push_back(c);
      }
    } else if (e.type == 3) {
      size_t li = in.n(4);
      const Conv& c = layers.at(li);
      const int64_t numel = c.out * (channels[c.input] / c.groups) * c.kh * c.kw;
      int kind = static_cast<int>(in.n(1)), coding = static_cast<int>(in.n(1));
      in.n(1);
      const auto float_coding = in.n(1);
      if (float_coding > 2) bad("float_coding");
      const bool half = float_coding >= 1;  // codebooks; biases are f16 only for 1
      size_t stored = in.n(4);
      if (coding > 4) bad("position_coding");
      size_t g = (coding == 1 || coding == 2 || coding == 4) ? in.n(2) : 0;
      size_t symbols = coding ? in.n(4) : 0;
      ConvWeights w{c.name, std::vector<float>(numel, 0.0f), {}};
      if (c.bias && float_coding == 2) {  // 8-bit: scale x q, one binary32 product
        const float scale = in.f();
        for (int64_t i = 0; i < c.out; ++i) {
          const auto q = static_cast<int8_t>(in.n(1));
          if (q == -128) bad("bias -128");
          w.bias.push_back(scale * static_cast<float>(q));
        }
      } else if (c.bias) {
        for (int64_t i = 0; i < c.out; ++i) w.bias.push_back(in.f(half));
      }
      std::vector<float> codebook;
      if (kind == 2) {
        size_t k = in.n(2);
        for (size_t i = 0; i < k; ++i) codebook.push_back(in.f(half));
      }
      std::vector<bool> keep(numel, coding == 0);
      if (coding) {
        size_t size = in.n(4);
        std::vector<int> s = huffman(plain, in.at, in.at + size,
                                     coding == 3 ? 256 : static_cast<int>(g) + 1, symbols);
        in.at += size;
        if (coding == 3) {
          for (int64_t p = 0; p < numel; ++p) keep[p] = (s[p / 8] >> (p % 8)) & 1;
        } else {
          // coding 4 walks over kernels of kh x kw positions and lists every position of one
          const int64_t unit = coding == 4 ? c.kh * c.kw : 1;
          int64_t prev = -1;
          std::vector<bool> listed(numel, false);
          for (int x : s) {
            if (x == static_cast<int>(g)) {
              prev += static_cast<int64_t>(g);
              continue;
            }
            prev += x + 1;
            for (int64_t p = prev * unit; p < (prev + 1) * unit; ++p) listed.at(p) = true;
          }
          for (int64_t p = 0; p < numel; ++p) keep[p] = coding == 2 ? !listed[p] : listed[p];
        }
      }
      std::vector<float> values;
      if (kind == 2) {
        size_t size = in.n(4);
        for (int x : huffman(plain, in.at, in.at + size, static_cast<int>(codebook.size()), stored))
          values.push_back(codebook.at(x));
        in.at += size;
      } else {
        for (size_t i = 0; i < stored; ++i) values.push_back(in.f());
      }
      size_t k = 0;
      for (int64_t p = 0; p < numel; ++p)
        if (keep[p]) w.weight[p] = values.at(k++);
      if (k != values.size()) bad("count");
      result_of_layer[li] = result.size();
      result.push_back(std::move(w));
    } else if (e.flags & 1) {
      bad("unknown required section");
    }
  }
  std::vector<ConvWeights> ordered;
  for (auto& [li, ri] : result_of_layer) ordered.push_back(std::move(result[ri]));
  return ordered;
}

}  // namespace sqz::spec
