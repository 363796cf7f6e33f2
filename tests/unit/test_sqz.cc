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
#include "sqz/prune/prune.h"
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
    quantize::QuantizeOptions o;
    o.bits = bits;
    if (bits == 5) o.layer_bits["fire/e3"] = 0;
    REQUIRE(quantize::quantize_model(q, o).is_ok());
    out.push_back(q);
  }
  return out;
}

// The tiny SqueezeNet (seed, density) with every layer quantized at `bits`.
Model quantized_tiny(uint64_t seed, double density, int bits) {
  Model m = test::tiny_squeezenet(seed, 19, 10, density);
  quantize::QuantizeOptions o;
  o.bits = bits;
  REQUIRE(quantize::quantize_model(m, o).is_ok());
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

// The ledger's coding of `part` ("bias", "positions", ...) per layer.
std::map<std::string, std::string> codings(const std::vector<format::LedgerRow>& rows,
                                           const std::string& part) {
  std::map<std::string, std::string> out;
  for (const auto& row : rows)
    if (row.part == part) out[row.layer] = row.coding;
  return out;
}

// Decodes `bytes` with the library and with the spec-only reader: every convolution's weights,
// biases and codebook must be what the writer returned (`written`), bit for bit. Returns the
// library's decoding.
format::SqzFile read_back_agreeing(const std::string& bytes, const Model& written) {
  auto back = format::decode_sqz(bytes);
  REQUIRE_MESSAGE(back.is_ok(), back.status().message());
  const std::vector<spec::ConvWeights> independent = spec::read(bytes);
  size_t conv = 0;
  for (size_t i = 0; i < written.layers.size(); ++i) {
    const Layer &w = written.layers[i], &b = back->model.layers[i];
    if (w.op != OpKind::kConvolution) continue;
    INFO("layer " << w.name);
    CHECK(w.weight.data == b.weight.data);
    CHECK(w.bias.data == b.bias.data);
    CHECK(w.quant.codebook == b.quant.codebook);
    REQUIRE(conv < independent.size());
    CHECK(independent[conv].name == w.name);
    CHECK(independent[conv].weight == b.weight.data);
    CHECK(independent[conv].bias == b.bias.data);
    ++conv;
  }
  CHECK(conv == independent.size());
  return std::move(*back);
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
    const format::SqzFile back = read_back_agreeing(bytes, written.model);
    for (size_t i = 0; i < m.layers.size(); ++i) {
      const Layer &a = m.layers[i], &b = back.model.layers[i];
      INFO("layer " << a.name);
      CHECK(a.name == b.name);
      CHECK(a.op == b.op);
      CHECK(a.inputs == b.inputs);
      if (a.op != OpKind::kConvolution) continue;
      // Lossless: the input itself comes back.
      CHECK(std::memcmp(a.weight.data.data(), b.weight.data.data(), 4 * a.weight.numel()) == 0);
      CHECK(a.bias.data == b.bias.data);
      CHECK(a.quant.codebook == b.quant.codebook);
      CHECK(a.quant.codes == b.quant.codes);
      if (!a.mask.empty()) CHECK(a.mask == b.mask);
    }
    uint64_t sum = 0, read_sum = 0;
    for (const auto& row : written.ledger) sum += row.bytes;
    for (const auto& row : back.ledger) read_sum += row.bytes;
    CHECK(sum == bytes.size());
    CHECK(read_sum == bytes.size());
    CHECK(back.metadata == format::Metadata{{"producer", "test"}});
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
  CHECK(newer.status().message().find("1." + std::to_string(format::kSqzVersionMinor)) !=
        std::string::npos);
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
  quantize::apply_codebook(*l);
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
    // What the writer returns is what both readers read, bit for bit ...
    const format::SqzFile back = read_back_agreeing(bytes, written.model);
    auto coding = codings(back.ledger, "bias");
    for (size_t i = 0; i < m.layers.size(); ++i) {
      const Layer &a = m.layers[i], &b = back.model.layers[i];
      if (a.op != OpKind::kConvolution) continue;
      INFO("layer " << a.name);
      // ... and differs from the input by binary16 rounding only (half an ulp: 2^-11).
      for (size_t j = 0; j < a.bias.data.size(); ++j)
        CHECK(std::abs(b.bias.data[j] - a.bias.data[j]) <= std::abs(a.bias.data[j]) / 2048 + 1e-7f);
      for (size_t j = 0; j < a.weight.data.size(); ++j)
        CHECK(std::abs(b.weight.data[j] - a.weight.data[j]) <=
              std::abs(a.weight.data[j]) / 2048 + 1e-7f);
      // Always binary16 here: every value is finite and small; centroids that round to one
      // value merge.
      REQUIRE(coding[a.name] == "f16");
      half_layers++;
      for (float v : b.bias.data) CHECK(v == static_cast<float>(static_cast<_Float16>(v)));
      for (float v : b.quant.codebook) CHECK(v == static_cast<float>(static_cast<_Float16>(v)));
    }
  }
  CHECK(half_layers > 20);
}

TEST_CASE("binary16 falls back to float32 where values overflow; merged centroids are one") {
  Model m = quantized_tiny(21, 0.5, 3);
  Layer* big = m.find_layer("conv1");
  big->bias.data[0] = 1e6f;  // beyond binary16's 65504
  Layer* close = m.find_layer("fire/e1");
  close->quant.codebook[1] = std::nextafter(close->quant.codebook[0], 1.0f);  // one in binary16
  quantize::apply_codebook(*close);
  format::SqzFile written;
  const std::string bytes = encode_half(m, &written);
  auto back = format::decode_sqz(bytes);
  REQUIRE(back.is_ok());
  auto bias_coding = codings(back->ledger, "bias");
  CHECK(bias_coding["conv1"] == "f32");
  CHECK(bias_coding["fire/squeeze"] == "f16");
  CHECK(back->model.find_layer("conv1")->bias.data[0] == 1e6f);
  // The two centroids that binary16 cannot tell apart are stored once; their weights decode
  // to the same value as before.
  CHECK(bias_coding["fire/e1"] == "f16");
  const Layer* e1 = back->model.find_layer("fire/e1");
  CHECK(e1->quant.codebook.size() == close->quant.codebook.size() - 1);
  for (size_t i = 0; i < e1->weight.data.size(); ++i)
    CHECK(e1->weight.data[i] == static_cast<float>(static_cast<_Float16>(close->weight.data[i])));
  CHECK(spec::read(bytes).at(2).weight == e1->weight.data);
}

namespace {

// The payload offsets of section `index` (0-based) of a file.
std::pair<size_t, size_t> section_span(const std::string& bytes, size_t index) {
  ByteReader r(std::string_view(bytes).substr(12));
  uint32_t n = 0;
  (void)r.get_u32(&n);
  size_t at = 16 + 12 * size_t{n};
  for (uint32_t i = 0; i < n; ++i) {
    const size_t size =
        load_u32(reinterpret_cast<const uint8_t*>(bytes.data()) + 16 + 12 * size_t{i} + 8);
    if (i == index) return {at, size};
    at += size;
  }
  return {0, 0};
}

// Sets byte `offset` of section `index`'s payload, then fixes its CRC and the file's.
std::string patch_section(std::string bytes, size_t index, size_t offset, uint8_t value) {
  const auto [at, size] = section_span(bytes, index);
  bytes[at + offset] = static_cast<char>(value);
  std::string crc;
  put_u32(&crc, crc32c(bytes.data() + at, size));
  bytes.replace(16 + 12 * index + 4, 4, crc);
  crc.clear();
  put_u32(&crc, crc32c(bytes.data(), bytes.size() - 4));
  bytes.replace(bytes.size() - 4, 4, crc);
  return bytes;
}

}  // namespace

TEST_CASE("whole-kernel masks (SPEC 1.2): gaps between kernels, read by both readers") {
  Model pruned = test::tiny_squeezenet(31, 19, 10, 1.0);
  prune::PruneOptions po;
  po.density = 0.3;
  po.granularity = prune::Granularity::kKernel;
  REQUIRE(prune::prune_once(pruned, po).is_ok());
  for (int bits : {0, 3}) {
    Model m = pruned;
    if (bits) {
      quantize::QuantizeOptions qo;
      qo.bits = bits;
      REQUIRE(quantize::quantize_model(m, qo).is_ok());
    }
    INFO("bits " << bits);
    format::SqzFile written;
    const std::string bytes = encode(m, &written);
    CHECK(version_minor(bytes) == 2);
    const format::SqzFile back = read_back_agreeing(bytes, written.model);
    const auto positions = codings(back.ledger, "positions");
    CHECK(positions == codings(written.ledger, "positions"));
    for (const Layer& a : m.layers) {
      if (a.op != OpKind::kConvolution) continue;
      INFO("layer " << a.name);
      const Layer& b = *back.model.find_layer(a.name);
      CHECK(b.mask == a.mask);
      CHECK(b.weight.data == a.weight.data);
      const bool window = a.conv.kernel_h * a.conv.kernel_w > 1;
      CHECK((positions.at(a.name).rfind("gaps-kernels", 0) == 0) == window);
    }
  }
  // One weight fewer in a kept kernel: that layer's mask is no longer whole kernels.
  Model broken = pruned;
  Layer* e3 = broken.find_layer("fire/e3");
  const auto first = std::find(e3->mask.begin(), e3->mask.end(), uint8_t{1}) - e3->mask.begin();
  e3->mask[static_cast<size_t>(first)] = 0;
  e3->weight.data[static_cast<size_t>(first)] = 0;
  format::SqzFile per_weight, per_kernel;
  encode(broken, &per_weight);
  encode(pruned, &per_kernel);
  const auto broken_codings = codings(per_weight.ledger, "positions");
  CHECK(broken_codings.at("fire/e3").rfind("gaps-kernels", 0) != 0);
  auto position_bytes = [](const format::SqzFile& f, const std::string& layer) {
    for (const auto& row : f.ledger)
      if (row.layer == layer && row.part == "positions") return row.bytes;
    return uint64_t{0};
  };
  CHECK(position_bytes(per_kernel, "fire/e3") < position_bytes(per_weight, "fire/e3"));
}

TEST_CASE("kernel coding on a 1x1 layer, or listing too many kernels, is an error") {
  Model m = test::tiny_squeezenet(32, 19, 10, 0.3);
  for (Layer& l : m.layers) {
    if (l.op != OpKind::kConvolution) continue;
    l.mask.resize(l.weight.data.size());
    for (size_t i = 0; i < l.mask.size(); ++i) l.mask[i] = l.weight.data[i] != 0.0f;
  }
  format::SqzFile file;
  const std::string bytes = encode(m, &file);
  // Sections: GRAPH, METADATA, then one LAYER per convolution in layer order; byte 5 of a
  // LAYER payload is position_coding.
  size_t section = 2, tried = 0;
  for (const Layer& l : m.layers) {
    if (l.op != OpKind::kConvolution) continue;
    const auto [at, size] = section_span(bytes, section);
    const uint8_t coding = static_cast<uint8_t>(bytes[at + 5]);
    if (coding == 1) {  // gaps between stored positions: same header layout as coding 4
      INFO("layer " << l.name);
      auto r = format::decode_sqz(patch_section(bytes, section, 5, 4));
      REQUIRE_FALSE(r.is_ok());
      const std::string& msg = r.status().message();
      CHECK(msg.find(l.name) != std::string::npos);
      if (l.conv.kernel_h * l.conv.kernel_w == 1)
        CHECK(msg.find("1x1 window") != std::string::npos);
      ++tried;
    }
    ++section;
  }
  CHECK(tried >= 3);
}

TEST_CASE("8-bit biases (SPEC 1.2): error within scale / 2, read back by both readers") {
  format::SqzEncodeOptions o;
  o.int8_biases = true;
  int int8_layers = 0;
  for (const Model& m : sample_models()) {
    std::string bytes;
    auto written = format::encode_sqz(m, o, &bytes);
    REQUIRE(written.is_ok());
    CHECK(version_minor(bytes) == 2);
    format::SqzFile half;
    CHECK(bytes.size() < encode_half(m, &half).size());
    const format::SqzFile back = read_back_agreeing(bytes, written->model);
    auto bias_coding = codings(back.ledger, "bias");
    for (size_t i = 0; i < m.layers.size(); ++i) {
      const Layer &a = m.layers[i], &b = back.model.layers[i];
      if (a.op != OpKind::kConvolution) continue;
      INFO("layer " << a.name);
      REQUIRE(bias_coding[a.name] == "i8");
      ++int8_layers;
      float max_abs = 0;
      for (float v : a.bias.data) max_abs = std::max(max_abs, std::fabs(v));
      for (size_t j = 0; j < a.bias.data.size(); ++j)
        CHECK(std::fabs(b.bias.data[j] - a.bias.data[j]) <= max_abs / 254 * 1.0001f);
    }
  }
  CHECK(int8_layers > 20);

  // A stored q of -128 is outside the coding.
  const Model m = quantized_tiny(33, 0.4, 3);
  std::string bytes;
  REQUIRE(format::encode_sqz(m, o, &bytes).is_ok());
  const auto [at, size] = section_span(bytes, 1);  // GRAPH, then conv1's LAYER (no METADATA)
  const uint8_t coding = static_cast<uint8_t>(bytes[at + 5]);
  const size_t bias_at = 12 + (coding != 0 && coding != 3 ? 2 : 0) + (coding ? 4 : 0);
  REQUIRE(static_cast<uint8_t>(bytes[at + 7]) == 2);  // float_coding
  auto r = format::decode_sqz(patch_section(bytes, 1, bias_at + 4, 0x80));
  REQUIRE_FALSE(r.is_ok());
  CHECK(r.status().message().find("-128") != std::string::npos);
  CHECK(format::decode_sqz(patch_section(bytes, 1, bias_at + 4, 0x81)).is_ok());
}

TEST_CASE("a lossless write keeps binary16 and 8-bit codings where they hold the values exactly") {
  for (const Model& m : sample_models()) {
    for (bool int8 : {false, true}) {
      INFO((int8 ? "int8" : "binary16"));
      format::SqzEncodeOptions lossy;
      (int8 ? lossy.int8_biases : lossy.half_floats) = true;
      std::string first;
      REQUIRE(format::encode_sqz(m, lossy, &first).is_ok());
      auto back = format::decode_sqz(first);
      REQUIRE(back.is_ok());
      // Written again without lossy options: the same codings, so the same bytes.
      std::string again;
      REQUIRE(format::encode_sqz(back->model, {}, &again).is_ok());
      CHECK(again == first);
    }
    // Values no compact coding holds stay float32 (the input's random biases).
    format::SqzFile plain;
    encode(m, &plain);
    for (const auto& [layer, coding] : codings(plain.ledger, "bias")) CHECK(coding == "f32");
  }
}

TEST_CASE("a model read with its codes only is written whole, and refused where weights change") {
  const std::string bytes = encode(quantized_tiny(11, 0.4, 4));
  format::SqzDecodeOptions codes_only;
  codes_only.dense_weights = false;
  auto dense = format::decode_sqz(bytes);
  auto codes = format::decode_sqz(bytes, codes_only);
  REQUIRE(dense.is_ok());
  REQUIRE(codes.is_ok());
  // The writer expands the codes: the same file as from the float32 weights.
  CHECK(encode(codes->model) == encode(dense->model));
  // Pruning and weight sharing need the float32 values: a clear error, not a run on nothing.
  Model m = codes->model;
  prune::PruneOptions po;
  po.density = 0.5;
  auto pruned = prune::prune_once(m, po);
  REQUIRE(!pruned.is_ok());
  CHECK(pruned.status().code() == ErrorCode::kInvalidArgument);
  CHECK(pruned.status().message().find("codes only") != std::string::npos);
  quantize::QuantizeOptions qo;
  qo.bits = 3;
  CHECK(quantize::quantize_model(m, qo).status().code() == ErrorCode::kInvalidArgument);
  for (Layer& l : m.layers) expand_codes(l);
  CHECK(check_float_weights(m).is_ok());
  CHECK(prune::prune_once(m, po).is_ok());
}
