// The hostile .sqz corpus (hostile_util.h): one valid file, then mutations of it field by
// field, as format/SPEC.md lays the fields out; every checksum is recomputed by assemble().
#include <zstd.h>

#include <cstring>
#include <functional>
#include <set>

#include "hostile_util.h"
#include "sqz/format/sqz_file.h"
#include "sqz/quantize/quantize.h"
#include "test_util.h"

namespace sqz::test {
namespace {

using Mutate = std::function<void(SqzParts&)>;
// Record indices of tiny_squeezenet's GRAPH: conv1, relu1, pool1, fire/squeeze, ..., fire/concat
// (9), drop (10), conv_final (11), relu_final (12), pool_final (13).
constexpr size_t kConv1 = 0, kRelu1 = 1, kPool1 = 2, kConcat = 9, kDrop = 10, kGap = 13;

std::string& graph(SqzParts& p) { return p.sections[0].plain; }
std::string& layer(SqzParts& p, size_t k) { return p.sections[2 + k].plain; }  // LAYER k

size_t param(SqzParts& p, size_t record, size_t offset) {
  return read_graph_layout(graph(p)).records[record].params + offset;
}

// A zstd frame declaring `declared` bytes of zeros (it holds them: a decompression bomb).
std::string zstd_zeros(size_t declared) {
  ZSTD_CCtx* c = ZSTD_createCCtx();
  ZSTD_CCtx_setPledgedSrcSize(c, declared);
  std::string out(1 << 20, '\0'), zeros(1 << 20, '\0');
  size_t at = 0, fed = 0;
  for (;;) {
    const size_t chunk = std::min(zeros.size(), declared - fed);
    ZSTD_inBuffer in{zeros.data(), chunk, 0};
    ZSTD_outBuffer o{out.data() + at, out.size() - at, 0};
    const bool last = fed + chunk == declared;
    ZSTD_compressStream2(c, &o, &in, last ? ZSTD_e_end : ZSTD_e_continue);
    at += o.pos;
    fed += chunk;
    if (last) break;
  }
  ZSTD_freeCCtx(c);
  out.resize(at);
  return out;
}

// tiny's GRAPH with `extra` ReLU records chained before the global pooling.
void chain_relus(SqzParts& p, int extra) {
  std::string& g = graph(p);
  const GraphLayout lay = read_graph_layout(g);
  const GraphLayout::Record gap = lay.records[kGap];
  const std::string params = g.substr(gap.params, gap.end - gap.params);
  std::string out = g.substr(0, gap.start);
  auto str = [&](const std::string& s) {
    out.push_back(static_cast<char>(s.size() & 0xFF));
    out.push_back(static_cast<char>(s.size() >> 8));
    out += s;
  };
  std::string prev = "relu_final";
  for (int i = 0; i < extra; ++i) {
    const std::string name = "r" + std::to_string(i);
    out.push_back(2);  // ReLU
    str(name);
    out.push_back(1);
    str(prev);
    str(name);
    prev = name;
  }
  out.push_back(4);  // the global pooling, now reading the chain's end
  str("pool_final");
  out.push_back(1);
  str(prev);
  str("pool_final");
  out += params;
  poke_u32(&out, lay.layer_count, static_cast<uint32_t>(lay.records.size() + extra));
  g = out;
}

// LAYER field offsets (SPEC "LAYER"): the bias follows the header, gap_limit and symbols.
size_t bias_offset(const std::string& l) {
  const auto coding = static_cast<uint8_t>(l[5]);
  return 12 + (coding == 1 || coding == 2 || coding == 4 ? 2 : 0) + (coding >= 1 ? 4 : 0);
}

std::vector<std::pair<std::string, Mutate>> mutations() {
  std::vector<std::pair<std::string, Mutate>> m;
  auto add = [&](const std::string& name, Mutate f) { m.push_back({name, std::move(f)}); };
  // Header and directory.
  add("version_major_0", [](SqzParts& p) { p.major = 0; });
  add("version_major_2", [](SqzParts& p) { p.major = 2; });
  add("version_minor_99", [](SqzParts& p) { p.minor = 99; });
  add("no_sections", [](SqzParts& p) { p.sections.clear(); });
  add("graph_not_first", [](SqzParts& p) { std::swap(p.sections[0], p.sections[1]); });
  add("two_graphs", [](SqzParts& p) { p.sections.push_back(p.sections[0]); });
  add("two_metadata", [](SqzParts& p) { p.sections.push_back(p.sections[1]); });
  add("layer_missing", [](SqzParts& p) { p.sections.pop_back(); });
  add("layer_twice", [](SqzParts& p) { p.sections.push_back(p.sections[2]); });
  add("unknown_required", [](SqzParts& p) { p.sections.push_back({77, 1, "x", false, ""}); });
  add("unknown_optional", [](SqzParts& p) { p.sections.push_back({77, 0, "x", false, ""}); });
  add("reserved_section_flags", [](SqzParts& p) { p.sections[0].flags |= 4; });
  add("graph_not_zstd", [](SqzParts& p) { p.sections[0].raw = "not a zstd frame"; });
  add("graph_zstd_declares_512mib",
      [](SqzParts& p) { p.sections[0].raw = zstd_zeros(size_t{1} << 29); });
  add("metadata_zstd_declares_65mib",
      [](SqzParts& p) { p.sections[1].raw = zstd_zeros((size_t{64} << 20) + 1); });
  add("graph_zstd_zeros_1mib", [](SqzParts& p) { p.sections[0].raw = zstd_zeros(1 << 20); });
  add("graph_trailing_bytes", [](SqzParts& p) { graph(p) += "xx"; });
  for (int tenth : {1, 3, 5, 7, 9})
    add("graph_truncated_" + std::to_string(tenth * 10) + "pct",
        [tenth](SqzParts& p) { graph(p).resize(graph(p).size() * tenth / 10); });
  // GRAPH: the input.
  add("input_rank_3", [](SqzParts& p) { poke_u8(&graph(p), read_graph_layout(graph(p)).input_rank, 3); });
  add("input_rank_5", [](SqzParts& p) { poke_u8(&graph(p), read_graph_layout(graph(p)).input_rank, 5); });
  const std::pair<const char*, std::vector<uint32_t>> dims[] = {
      {"input_height_0", {1, 3, 0, 19}},          {"input_width_65537", {1, 3, 19, 65537}},
      {"input_3x65536x65536", {1, 3, 65536, 65536}}, {"input_batch_65536", {65536, 3, 19, 19}},
      {"input_channels_7", {1, 7, 19, 19}},        {"input_4096x4096", {1, 3, 4096, 4096}}};
  for (const auto& [name, d] : dims)
    add(name, [d = d](SqzParts& p) {
      const size_t at = read_graph_layout(graph(p)).input_dims;
      for (size_t i = 0; i < 4; ++i) poke_u32(&graph(p), at + 4 * i, d[i]);
    });
  // GRAPH: the layer count and records.
  for (uint32_t count : {0u, 10001u, 0xFFFFFFFFu, 5u})
    add("layer_count_" + std::to_string(count), [count](SqzParts& p) {
      poke_u32(&graph(p), read_graph_layout(graph(p)).layer_count, count);
    });
  add("name_length_4097", [](SqzParts& p) {
    poke_u16(&graph(p), read_graph_layout(graph(p)).records[kRelu1].name, 4097);
  });
  add("name_length_65535", [](SqzParts& p) {
    poke_u16(&graph(p), read_graph_layout(graph(p)).records[kRelu1].name, 65535);
  });
  for (uint8_t op : {0, 10, 255})
    add("op_" + std::to_string(op), [op](SqzParts& p) {
      poke_u8(&graph(p), read_graph_layout(graph(p)).records[kRelu1].op, op);
    });
  add("op_add_one_input", [](SqzParts& p) {
    poke_u8(&graph(p), read_graph_layout(graph(p)).records[kDrop].op, 9);
  });
  add("op_softmax_on_relu", [](SqzParts& p) {  // an op with parameters where none are written
    poke_u8(&graph(p), read_graph_layout(graph(p)).records[kRelu1].op, 7);
  });
  for (uint8_t n : {0, 65, 255})
    add("input_count_" + std::to_string(n), [n](SqzParts& p) {
      poke_u8(&graph(p), read_graph_layout(graph(p)).records[kRelu1].input_count, n);
    });
  add("unknown_input_blob", [](SqzParts& p) {  // relu1 reads "conv1" -> "conv2"
    const size_t at = read_graph_layout(graph(p)).records[kRelu1].input_count + 1 + 2 + 4;
    graph(p)[at] = '2';
  });
  add("self_cycle", [](SqzParts& p) {  // relu1 reads "relu1", its own output
    const size_t at = read_graph_layout(graph(p)).records[kRelu1].input_count + 1 + 2;
    graph(p).replace(at, 5, "relu1");
  });
  add("output_produced_twice", [](SqzParts& p) {  // relu1 writes "conv1"
    const size_t at = read_graph_layout(graph(p)).records[kRelu1].output + 2;
    graph(p).replace(at, 5, "conv1");
  });
  // GRAPH: convolution parameters (conv1).
  const std::pair<const char*, std::pair<size_t, uint32_t>> conv[] = {
      {"conv_out_channels_0", {0, 0}},        {"conv_out_channels_65537", {0, 65537}},
      {"conv_out_channels_2pow31", {0, 1u << 31}}, {"conv_out_channels_9", {0, 9}},
      {"conv_kernel_0", {4, 0}},              {"conv_kernel_65", {4, 65}},
      {"conv_stride_0", {12, 0}},             {"conv_stride_70000", {12, 70000}},
      {"conv_stride_65536", {12, 65536}},     {"conv_pad_70000", {20, 70000}},
      {"conv_pad_64", {20, 64}},              {"conv_groups_0", {28, 0}},
      {"conv_groups_3", {28, 3}},             {"conv_groups_65536", {28, 65536}}};
  for (const auto& [name, f] : conv)
    add(name, [f = f](SqzParts& p) { poke_u32(&graph(p), param(p, kConv1, f.first), f.second); });
  add("conv_flags_reserved", [](SqzParts& p) { poke_u8(&graph(p), param(p, kConv1, 32), 0x81); });
  add("conv_flags_asymmetric_without_pads",
      [](SqzParts& p) { poke_u8(&graph(p), param(p, kConv1, 32), 0x03); });
  add("conv_no_bias_flag", [](SqzParts& p) { poke_u8(&graph(p), param(p, kConv1, 32), 0x00); });
  // GRAPH: pooling parameters (pool1) and axes.
  const std::pair<const char*, std::pair<size_t, uint32_t>> pool[] = {
      {"pool_kernel_0", {0, 0}},    {"pool_kernel_65", {0, 65}},     {"pool_stride_0", {8, 0}},
      {"pool_stride_70000", {8, 70000}}, {"pool_pad_3", {16, 3}}, {"pool_pad_65536", {16, 65536}}};
  for (const auto& [name, f] : pool)
    add(name, [f = f](SqzParts& p) { poke_u32(&graph(p), param(p, kPool1, f.first), f.second); });
  add("pool_flags_reserved", [](SqzParts& p) { poke_u8(&graph(p), param(p, kPool1, 24), 0x10); });
  add("pool_flags_global", [](SqzParts& p) { poke_u8(&graph(p), param(p, kPool1, 24), 0x01); });
  for (int32_t axis : {0, 2, 7, -9})
    add("concat_axis_" + std::to_string(axis), [axis](SqzParts& p) {
      poke_u32(&graph(p), param(p, kConcat, 0), static_cast<uint32_t>(axis));
    });
  // GRAPH: long chains (linear planning; the layer limit).
  add("relu_chain_9000", [](SqzParts& p) { chain_relus(p, 9000); });
  add("relu_chain_20000", [](SqzParts& p) { chain_relus(p, 20000); });
  // METADATA.
  add("metadata_count_4097", [](SqzParts& p) { poke_u32(&p.sections[1].plain, 0, 4097); });
  add("metadata_key_length_65535", [](SqzParts& p) { poke_u16(&p.sections[1].plain, 4, 65535); });
  add("metadata_truncated",
      [](SqzParts& p) { p.sections[1].plain.resize(p.sections[1].plain.size() - 3); });
  // LAYER (conv1's section).
  add("layer_index_1000", [](SqzParts& p) { poke_u32(&layer(p, 0), 0, 1000); });
  add("layer_index_relu", [](SqzParts& p) { poke_u32(&layer(p, 0), 0, 1); });
  add("layer_kind_9", [](SqzParts& p) { poke_u8(&layer(p, 0), 4, 9); });
  add("layer_coding_9", [](SqzParts& p) { poke_u8(&layer(p, 0), 5, 9); });
  add("layer_bits_0", [](SqzParts& p) { poke_u8(&layer(p, 0), 6, 0); });
  add("layer_bits_9", [](SqzParts& p) { poke_u8(&layer(p, 0), 6, 9); });
  add("layer_float_coding_7", [](SqzParts& p) { poke_u8(&layer(p, 0), 7, 7); });
  add("layer_stored_2pow31", [](SqzParts& p) { poke_u32(&layer(p, 0), 8, 1u << 31); });
  add("layer_stored_0", [](SqzParts& p) { poke_u32(&layer(p, 0), 8, 0); });
  add("layer_truncated_half", [](SqzParts& p) { layer(p, 0).resize(layer(p, 0).size() / 2); });
  add("layer_trailing_bytes", [](SqzParts& p) { layer(p, 0) += "xyz"; });
  add("layer_bias_nan", [](SqzParts& p) {
    poke_u32(&layer(p, 0), bias_offset(layer(p, 0)), 0x7FC00000u);
  });
  add("layer_bias_infinite", [](SqzParts& p) {
    poke_u32(&layer(p, 0), bias_offset(layer(p, 0)), 0x7F800000u);
  });
  add("layer_codebook_size_0", [](SqzParts& p) {  // 8 biases of conv1, then K
    poke_u16(&layer(p, 0), bias_offset(layer(p, 0)) + 4 * 8, 0);
  });
  add("layer_centroid_nan", [](SqzParts& p) {
    poke_u32(&layer(p, 0), bias_offset(layer(p, 0)) + 4 * 8 + 2, 0x7FC00000u);
  });
  add("layer_centroids_unordered", [](SqzParts& p) {
    const size_t at = bias_offset(layer(p, 0)) + 4 * 8 + 2;
    std::string& l = layer(p, 0);
    std::string first = l.substr(at, 4);
    l.replace(at, 4, l.substr(at + 4, 4));
    l.replace(at + 4, 4, first);
  });
  return m;
}

}  // namespace

std::string hostile_base_sqz() {
  Model m = tiny_squeezenet(11, 19, 10, 0.6);
  quantize::QuantizeOptions q;
  q.bits = 4;
  (void)quantize::quantize_model(m, q);
  format::SqzEncodeOptions o;
  o.metadata = {{"producer", "hostile test"}, {"source", "tiny"}};
  std::string bytes;
  (void)format::encode_sqz(m, o, &bytes);
  return bytes;
}

std::vector<std::pair<std::string, std::string>> hostile_sqz_files() {
  const SqzParts base = take_apart(hostile_base_sqz());
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [name, mutate] : mutations()) {
    SqzParts p = base;
    mutate(p);
    out.push_back({name, assemble(p)});
  }
  return out;
}

}  // namespace sqz::test
