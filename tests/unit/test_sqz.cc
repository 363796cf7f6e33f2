// The .sqz file: round trips of every weight kind, the ledger, corruption, versions, and
// agreement with the spec-only reader.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <random>

#include "spec_reader.h"
#include "sqz/core/byte_io.h"
#include "sqz/core/crc32c.h"
#include "sqz/format/sqz_file.h"
#include "sqz/quantize/quantize.h"
#include "test_util.h"

using namespace sqz;

namespace {

// Samples: dense float, pruned float, quantized (several bit widths, one layer left float).
std::vector<Model> sample_models() {
  std::vector<Model> out;
  out.push_back(test::tiny_squeezenet(1, 19, 10, 1.0));
  Model pruned = test::tiny_squeezenet(2, 19, 10, 0.3);
  for (Layer& l : pruned.layers) {
    if (l.op != OpKind::kConvolution) continue;
    l.mask.resize(l.weight.data.size());
    for (size_t i = 0; i < l.mask.size(); ++i) l.mask[i] = l.weight.data[i] != 0.0f;
  }
  out.push_back(pruned);
  for (int bits : {1, 2, 5, 8}) {
    Model q = test::tiny_squeezenet(3 + bits, 19, 10, bits == 8 ? 0.9 : 0.35);
    quant::QuantizeOptions o;
    o.bits = bits;
    if (bits == 5) o.layer_bits["fire/e3"] = 0;
    REQUIRE(quant::quantize_model(q, o).is_ok());
    out.push_back(q);
  }
  return out;
}

// The tiny SqueezeNet (seed, density) with every layer quantized at `bits`.
Model quantized_tiny(uint64_t seed, double density, int bits) {
  Model m = test::tiny_squeezenet(seed, 19, 10, density);
  quant::QuantizeOptions o;
  o.bits = bits;
  REQUIRE(quant::quantize_model(m, o).is_ok());
  return m;
}

std::string encode(const Model& m, format::SqzFile* file = nullptr) {
  std::string bytes;
  format::SqzEncodeOptions o;
  o.metadata = {{"producer", "test"}};
  auto f = format::encode_sqz(m, o, &bytes);
  REQUIRE_MESSAGE(f.is_ok(), f.status().message());
  if (file) *file = *f;
  return bytes;
}

// Rewrites a file with a new version or an extra section, fixing sizes and CRCs (per SPEC).
std::string rebuild(const std::string& bytes, uint16_t major, int extra_type,
                    uint16_t extra_flags) {
  ByteReader r(std::string_view(bytes).substr(8));
  uint16_t maj = 0, minor = 0;
  uint32_t n = 0;
  (void)(r.get_u16(&maj) && r.get_u16(&minor) && r.get_u32(&n));
  std::string dir, payloads;
  size_t at = 16 + 12 * n;
  for (uint32_t i = 0; i < n; ++i) {
    uint16_t type = 0, flags = 0;
    uint32_t crc = 0, size = 0;
    (void)(r.get_u16(&type) && r.get_u16(&flags) && r.get_u32(&crc) && r.get_u32(&size));
    put_u16(&dir, type);
    put_u16(&dir, flags);
    put_u32(&dir, crc);
    put_u32(&dir, size);
    payloads += bytes.substr(at, size);
    at += size;
  }
  if (extra_type) {
    const std::string payload = "future data";
    put_u16(&dir, static_cast<uint16_t>(extra_type));
    put_u16(&dir, extra_flags);
    put_u32(&dir, crc32c(payload.data(), payload.size()));
    put_u32(&dir, static_cast<uint32_t>(payload.size()));
    payloads += payload;
    ++n;
  }
  std::string out = bytes.substr(0, 8);
  put_u16(&out, major);
  put_u16(&out, minor);
  put_u32(&out, n);
  out += dir + payloads;
  put_u32(&out, crc32c(out.data(), out.size()));
  return out;
}

}  // namespace

TEST_CASE("CRC32C matches the published check value") {
  CHECK(crc32c("123456789", 9) == 0xE3069283u);
  CHECK(crc32c("", 0) == 0u);
  std::string zeros(32, '\0');
  CHECK(crc32c(zeros.data(), zeros.size()) == 0x8A9136AAu);  // RFC 3720 B.4
  CHECK(crc32c_portable("123456789", 9) == 0xE3069283u);
  std::mt19937 rng(9);
  std::string data(1000, '\0');
  for (char& c : data) c = static_cast<char>(rng());
  for (size_t n : {0u, 1u, 7u, 8u, 9u, 63u, 1000u})
    CHECK(crc32c(data.data(), n, 0x1234u) == crc32c_portable(data.data(), n, 0x1234u));
}

TEST_CASE(".sqz round trips every weight kind, bit for bit, and the spec reader agrees") {
  for (const Model& m : sample_models()) {
    format::SqzFile written;
    const std::string bytes = encode(m, &written);
    auto back = format::decode_sqz(bytes);
    REQUIRE_MESSAGE(back.is_ok(), back.status().message());
    const std::vector<spec::ConvWeights> independent = spec::read(bytes);
    size_t conv = 0;
    for (size_t i = 0; i < m.layers.size(); ++i) {
      const Layer &a = m.layers[i], &b = back->model.layers[i];
      INFO("layer " << a.name);
      CHECK(a.name == b.name);
      CHECK(a.op == b.op);
      CHECK(a.inputs == b.inputs);
      if (a.op != OpKind::kConvolution) continue;
      CHECK(std::memcmp(a.weight.data.data(), b.weight.data.data(), 4 * a.weight.numel()) == 0);
      CHECK(a.bias.data == b.bias.data);
      CHECK(a.quant.codebook == b.quant.codebook);
      CHECK(a.quant.codes == b.quant.codes);
      if (!a.mask.empty()) CHECK(a.mask == b.mask);
      REQUIRE(conv < independent.size());
      CHECK(independent[conv].name == a.name);
      CHECK(independent[conv].weight == a.weight.data);
      CHECK(independent[conv].bias == a.bias.data);
      ++conv;
    }
    CHECK(conv == independent.size());
    uint64_t sum = 0, read_sum = 0;
    for (const auto& row : written.ledger) sum += row.bytes;
    for (const auto& row : back->ledger) read_sum += row.bytes;
    CHECK(sum == bytes.size());
    CHECK(read_sum == bytes.size());
    CHECK(back->metadata == format::Metadata{{"producer", "test"}});
  }
}

TEST_CASE("every single-byte change and every truncation of a sample .sqz is an error") {
  Model m = quantized_tiny(7, 0.3, 2);
  const std::string bytes = encode(m);
  REQUIRE(format::decode_sqz(bytes).is_ok());
  INFO("sample size " << bytes.size());
  CHECK(bytes.size() < 3000);
  int undetected = 0;
  std::string bad = bytes;
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (int v = 0; v < 256; ++v) {
      if (v == static_cast<uint8_t>(bytes[i])) continue;
      bad[i] = static_cast<char>(v);
      undetected += format::decode_sqz(bad).is_ok();
    }
    bad[i] = bytes[i];
  }
  CHECK(undetected == 0);
  int truncations_accepted = 0;
  for (size_t n = 0; n < bytes.size(); ++n)
    truncations_accepted += format::decode_sqz(std::string_view(bytes).substr(0, n)).is_ok();
  CHECK(truncations_accepted == 0);
}

TEST_CASE("versions and unknown sections") {
  const std::string bytes = encode(test::tiny_squeezenet(1));
  CHECK(format::decode_sqz(rebuild(bytes, 1, 0, 0)).is_ok());  // the rebuild itself is faithful
  auto newer = format::decode_sqz(rebuild(bytes, 2, 0, 0));
  REQUIRE_FALSE(newer.is_ok());
  CHECK(newer.status().message().find("2.0") != std::string::npos);
  CHECK(newer.status().message().find("1.1") != std::string::npos);
  CHECK(format::decode_sqz(rebuild(bytes, 1, 99, 0)).is_ok());   // optional: skipped
  auto required = format::decode_sqz(rebuild(bytes, 1, 99, 1));  // required: rejected
  REQUIRE_FALSE(required.is_ok());
  CHECK(required.status().message().find("unknown type 99") != std::string::npos);
  CHECK_FALSE(format::decode_sqz(rebuild(bytes, 1, 99, 4)).is_ok());  // reserved flag bit
}

TEST_CASE("centroids that crossed during fine-tuning are written in canonical order") {
  Model m = quantized_tiny(12, 0.5, 3);
  Layer* l = m.find_layer("conv1");
  std::swap(l->quant.codebook[0], l->quant.codebook[1]);  // as if training reordered them
  l->quant.codebook[2] = l->quant.codebook[3];            // and made two equal
  quant::apply_codebook(*l);
  const std::vector<float> weights = l->weight.data;
  std::string bytes;
  REQUIRE(format::encode_sqz(m, {}, &bytes).is_ok());
  auto back = format::decode_sqz(bytes);
  REQUIRE(back.is_ok());
  const Layer* b = back->model.find_layer("conv1");
  CHECK(b->weight.data == weights);
  CHECK(std::is_sorted(b->quant.codebook.begin(), b->quant.codebook.end()));
  CHECK(b->quant.codebook.size() == l->quant.codebook.size() - 1);
}

namespace {

uint16_t version_minor(const std::string& bytes) {
  return static_cast<uint16_t>(static_cast<uint8_t>(bytes[10]) | static_cast<uint8_t>(bytes[11])
                                                                     << 8);
}

std::string encode_half(const Model& m, format::SqzFile* file) {
  std::string bytes;
  format::SqzEncodeOptions o;
  o.half_floats = true;
  auto f = format::encode_sqz(m, o, &bytes);
  REQUIRE_MESSAGE(f.is_ok(), f.status().message());
  *file = *f;
  return bytes;
}

}  // namespace

TEST_CASE("binary16 biases and codebooks (SPEC 1.1): rounded, re-tied, read back by both readers") {
  int half_layers = 0;
  for (const Model& m : sample_models()) {
    format::SqzFile written;
    const std::string bytes = encode_half(m, &written);
    CHECK(version_minor(bytes) == 1);
    CHECK(version_minor(encode(m)) == 0);  // without binary16 a file stays a 1.0 file
    CHECK(bytes.size() < encode(m).size());
    auto back = format::decode_sqz(bytes);
    REQUIRE_MESSAGE(back.is_ok(), back.status().message());
    const std::vector<spec::ConvWeights> independent = spec::read(bytes);
    std::map<std::string, std::string> coding;
    for (const auto& row : back->ledger)
      if (row.part == "bias") coding[row.layer] = row.coding;
    size_t conv = 0;
    for (size_t i = 0; i < m.layers.size(); ++i) {
      const Layer &a = m.layers[i], &w = written.model.layers[i], &b = back->model.layers[i];
      if (a.op != OpKind::kConvolution) continue;
      INFO("layer " << a.name);
      // What the writer returns is what both readers read, bit for bit.
      CHECK(w.weight.data == b.weight.data);
      CHECK(w.bias.data == b.bias.data);
      CHECK(w.quant.codebook == b.quant.codebook);
      CHECK(independent[conv].weight == b.weight.data);
      CHECK(independent[conv].bias == b.bias.data);
      ++conv;
      // ... and differs from the input by binary16 rounding only (half an ulp: 2^-11).
      for (size_t j = 0; j < a.bias.data.size(); ++j)
        CHECK(std::abs(b.bias.data[j] - a.bias.data[j]) <= std::abs(a.bias.data[j]) / 2048 + 1e-7f);
      for (size_t j = 0; j < a.weight.data.size(); ++j)
        CHECK(std::abs(b.weight.data[j] - a.weight.data[j]) <=
              std::abs(a.weight.data[j]) / 2048 + 1e-7f);
      // Stored as binary16 unless two centroids would merge (only likely with 256 of them).
      const bool half = coding[a.name] == "f16";
      CHECK((half || a.quant.bits == 8));
      if (!half) continue;
      half_layers++;
      for (float v : b.bias.data) CHECK(v == static_cast<float>(static_cast<_Float16>(v)));
      for (float v : b.quant.codebook) CHECK(v == static_cast<float>(static_cast<_Float16>(v)));
    }
  }
  CHECK(half_layers > 20);
}

TEST_CASE("binary16 falls back to float32 per layer where it cannot hold the values") {
  Model m = quantized_tiny(21, 0.5, 3);
  Layer* big = m.find_layer("conv1");
  big->bias.data[0] = 1e6f;  // beyond binary16's 65504
  Layer* close = m.find_layer("fire/e1");
  close->quant.codebook[1] = std::nextafter(close->quant.codebook[0], 1.0f);  // one in binary16
  quant::apply_codebook(*close);
  format::SqzFile written;
  const std::string bytes = encode_half(m, &written);
  auto back = format::decode_sqz(bytes);
  REQUIRE(back.is_ok());
  std::map<std::string, std::string> bias_coding;
  for (const auto& row : back->ledger)
    if (row.part == "bias") bias_coding[row.layer] = row.coding;
  CHECK(bias_coding["conv1"] == "f32");
  CHECK(bias_coding["fire/e1"] == "f32");
  CHECK(bias_coding["fire/squeeze"] == "f16");
  CHECK(back->model.find_layer("conv1")->bias.data[0] == 1e6f);
  CHECK(back->model.find_layer("fire/e1")->quant.codebook == close->quant.codebook);
}
