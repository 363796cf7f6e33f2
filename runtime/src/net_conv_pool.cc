// A stem's max pooling run inside its convolution (NetOptions::fuse_pooling): a direct op's
// (SqueezeNet v1.0's conv1: 96 x 111 x 111 floats, 4.7 MB, past any L2) or a GEMM or SpMM op's
// over im2col (v1.1's 3x3/2 conv1: 3.1 MB). Unfused, that output is written once and read back
// once by the pooling; run in bands, each band of rows is pooled while it is still in the
// thread's cache and the whole output is never stored. Every output is computed by the same
// tile and the same max as unfused: the same bits.
#include <algorithm>

#include "net_impl.h"
#include "sqz/kernels/im2col.h"
#include "sqz/kernels/machine.h"

namespace sqz::runtime {

namespace {

// The convolution output that feeds layer j's pooling, through a fused ReLU (a view), when
// nothing else reads it: its producer's index, or -1.
int64_t sole_convolution_feeding(const Model& model, size_t j, const std::vector<bool>& skip,
                                 const std::map<std::string, int>& consumers,
                                 const std::map<std::string, size_t>& producer) {
  std::string in = model.layers[j].inputs[0];
  for (int hop = 0; hop < 2; ++hop) {
    if (consumers.at(in) != 1 || !producer.count(in)) return -1;
    const size_t i = producer.at(in);
    const Layer& l = model.layers[i];
    if (l.op == OpKind::kConvolution) return static_cast<int64_t>(i);
    if (l.op != OpKind::kRelu || !skip[i]) return -1;  // only a ReLU fused into the conv
    in = l.inputs[0];
  }
  return -1;
}

}  // namespace

std::vector<std::pair<size_t, size_t>> Net::Impl::fusable_poolings(
    const std::map<std::string, int>& consumers,
    const std::map<std::string, size_t>& producer) const {
  std::vector<std::pair<size_t, size_t>> pairs;
  if (!options.fuse_pooling) return pairs;
  for (size_t j = 0; j < model.layers.size(); ++j) {
    const Layer& l = model.layers[j];
    if (l.op != OpKind::kMaxPool || l.pool.global || skip[j]) continue;
    const int64_t i = sole_convolution_feeding(model, j, skip, consumers, producer);
    if (i >= 0 && !placement.count(model.layers[static_cast<size_t>(i)].output))
      pairs.emplace_back(j, static_cast<size_t>(i));
  }
  return pairs;
}

void Net::Impl::plan_pool_fusion(const std::map<std::string, int>& consumers,
                                 const std::map<std::string, size_t>& producer) {
  for (const auto& [j, i] : fusable_poolings(consumers, producer)) {
    const Layer& l = model.layers[j];
    ConvPlan& p = convs[i];
    const Layer& conv = model.layers[i];
    if (!p.op || p.then_pool || !pool_fuses_into(p, *p.op)) continue;
    p.then_pool = pool_shape(l, shapes.at(l.inputs[0]), shapes.at(l.output));
    p.pool_layer = j;
    skip[j] = true;
    elided.insert(conv.output);
    profiles[i].kernel += " +" + l.name;
    profiles[j].kernel = "in " + conv.name;
  }
}

// Items are (image, block of pooled rows, channel panel), the panel fastest: a thread keeps to
// one band of rows. Blocks of rows are made to give every thread items, and with fewer images
// than threads at least one block a thread, so that a thread reads its rows of the arranged
// input, not all of them for a share of the panels (2 threads, batch 1, ab_builds.sh: the
// release 3.7% and v1.1 1.4% faster; the rows a block shares with the next, kh - sh of them,
// are computed by both).
void Net::Impl::run_direct_pooled(const ConvShape& s, const ConvOp& op,
                                  const kernels::PoolShape& ps,
                                  const std::vector<const float*>& ins,
                                  const std::vector<float*>& outs) {
  arrange_direct(s, op, ins);
  const int64_t images = static_cast<int64_t>(ins.size()), per_image = op.arranged_floats();
  const int64_t panels = op.direct_panels(), pc = op.direct_panel_channels();
  // A band of one panel's rows in a quarter of the thread's L2 (as im2col blocks), beside the
  // next layer's reads and the pooled rows; at least one pooled row.
  const int64_t budget = kernels::l2_per_thread(machine()) / 4 / static_cast<int64_t>(sizeof(float));
  const int64_t fit = budget / std::max<int64_t>(1, pc * s.out_w);
  const int64_t band_rows = std::max<int64_t>(1, (fit - ps.kh) / ps.sh + 1);
  const int64_t threads = pool->threads(), want = 4 * threads;
  const int64_t blocks = std::clamp<int64_t>(
      std::max((want + images * panels - 1) / (images * panels), (threads + images - 1) / images),
      1, ps.out_h);
  const auto band_floats = static_cast<size_t>(kernels::direct_conv_band_floats(op, ps, band_rows));
  cols.resize(scratch.size());
  for (auto& c : cols) c.resize(std::max(c.size(), band_floats));
  pool->parallel_for(images * blocks * panels, [&](int64_t begin, int64_t end, int t) {
    for (int64_t w = begin; w < end; ++w) {
      const int64_t b = w / (blocks * panels), block = w / panels % blocks, panel = w % panels;
      kernels::direct_conv_maxpool_rows(op, padded.data() + b * per_image, shared.data(), ps,
                                        panel, ps.out_h * block / blocks,
                                        ps.out_h * (block + 1) / blocks, band_rows,
                                        cols[t].data(), outs[b]);
    }
  });
}

// Items are (image, block of pooled rows); a band holds every output channel of its rows, so
// the band rows are fewer than a direct op's (one panel's).
void Net::Impl::run_im2col_pooled(const ConvShape& s, const ConvOp& op,
                                  const kernels::PoolShape& ps,
                                  const std::vector<const float*>& ins,
                                  const std::vector<float*>& outs) {
  const int64_t images = static_cast<int64_t>(ins.size());
  // The band and its im2col rows in half of the thread's L2 (a quarter ran 2-7% slower on the
  // Zen 4, v1.1's 3x3/2 stem: bands of 2 pooled rows); at least one pooled row.
  const int64_t budget = kernels::l2_per_thread(machine()) / 2 / static_cast<int64_t>(sizeof(float));
  const int64_t fit = budget / std::max<int64_t>(1, (s.out_c + s.k_per_group()) * s.out_w);
  const int64_t band_rows = std::max<int64_t>(1, (fit - ps.kh) / ps.sh + 1);
  const int64_t want = 4 * int64_t{pool->threads()};
  const int64_t blocks = std::clamp<int64_t>((want + images - 1) / images, 1, ps.out_h);
  const auto band = static_cast<size_t>(kernels::im2col_conv_band_floats(op, ps, band_rows));
  const auto rows = static_cast<size_t>(kernels::im2col_conv_cols_floats(op, ps, band_rows));
  cols.resize(scratch.size());
  for (auto& c : cols) c.resize(std::max(c.size(), band + rows));
  pool->parallel_for(images * blocks, [&](int64_t begin, int64_t end, int t) {
    for (int64_t w = begin; w < end; ++w) {
      const int64_t b = w / blocks, block = w % blocks;
      kernels::im2col_conv_maxpool_rows(op, ins[b], shared.data(), ps, ps.out_h * block / blocks,
                                        ps.out_h * (block + 1) / blocks, band_rows,
                                        cols[t].data() + band, cols[t].data(), scratch[t].data(),
                                        outs[b]);
    }
  });
}

}  // namespace sqz::runtime
