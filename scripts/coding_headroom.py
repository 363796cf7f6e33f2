#!/usr/bin/env python3
"""How far a .sqz's streams are from what other entropy models would code them in (docs/tutorial.md,
"Where more bytes could come from"). Not part of the pipeline: a measurement.

usage: coding_headroom.py FILE.sqz [--float-onnx MODEL.onnx]

For every convolution of FILE.sqz (decoded with `squeeze-compress decode` to ONNX, so the
positions are the non-zeros and the codes the ranks of the distinct non-zero values): the
order-0 entropy of the codes and of the gaps between stored positions, and the cost of
adaptive models (Krichevsky-Trofimov counts, what a context-adaptive arithmetic coder learns)
with and without contexts. With --float-onnx, the squared error of k-means weight sharing per
layer against k-means over each output channel's weights divided by their RMS, at 4-6 bits.
Needs numpy and python3-onnx; TOOL (default build/cli/squeeze-compress) is the CLI.
"""
import math
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import numpy_helper


def conv_weights(path):
    m = onnx.load(path)
    inits = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    return [(n.output[0], inits[n.input[1]]) for n in m.graph.node if n.op_type == "Conv"]


def order0_bits(x):
    _, c = np.unique(x, return_counts=True)
    return float(-(c * np.log2(c / c.sum())).sum())


def adaptive_bits(symbols, contexts, alphabet):
    """Cost of coding symbols with KT counts kept per context."""
    bits = 0.0
    for ctx in np.unique(contexts):
        s = symbols[contexts == ctx]
        counts = np.zeros(alphabet)
        for i, v in enumerate(s):
            bits -= math.log2((counts[v] + 0.5) / (i + alphabet / 2))
            counts[v] += 1
    return bits


def adaptive_binary_bits(bits_in, contexts):
    total = 0.0
    for ctx in np.unique(contexts):
        b = bits_in[contexts == ctx].astype(np.int64)
        ones = np.concatenate([[0], np.cumsum(b)[:-1]])
        p1 = (ones + 0.5) / (np.arange(len(b)) + 1.0)
        total -= float(np.where(b == 1, np.log2(p1), np.log2(1 - p1)).sum())
    return total


def streams(name, w):
    out_c = w.shape[0]
    taps = int(np.prod(w.shape[2:]))
    w2 = w.reshape(out_c, -1)
    mask = w2 != 0  # a codebook holds no exact 0 (core/graph.h)
    values = w2[mask]
    codes = np.searchsorted(np.unique(values), values)
    channel = np.repeat(np.arange(out_c), mask.sum(1))
    pos = np.flatnonzero(mask.ravel())
    gaps = np.minimum(np.diff(np.concatenate([[-1], pos])) - 1, 255)
    m = mask.ravel().astype(np.int8)
    tap = np.tile(np.arange(taps), m.size // taps)
    prev = np.concatenate([[0], m[:-1]])
    prev[tap == 0] = 2
    up = np.vstack([np.zeros((1, w2.shape[1]), np.int8), mask[:-1].astype(np.int8)]).ravel()
    k = len(np.unique(values))
    return {
        "codes order-0": order0_bits(codes),
        "codes adaptive": adaptive_bits(codes, np.zeros_like(codes), k),
        "codes adaptive per channel": adaptive_bits(codes, channel, k),
        "codes static per channel (no tables)": sum(
            order0_bits(codes[channel == c]) for c in range(out_c) if (channel == c).any()),
        "gaps order-0": order0_bits(gaps),
        "positions adaptive": adaptive_binary_bits(m, np.zeros_like(m)),
        "positions adaptive by tap, previous bit, channel above": adaptive_binary_bits(
            m, tap * 6 + prev * 2 + up),
    }


def kmeans_sse(x, k, iterations=30):
    c = np.quantile(x, (np.arange(k) + 0.5) / k)
    for _ in range(iterations):
        a = np.abs(x[:, None] - c[None]).argmin(1)
        for j in range(k):
            if (a == j).any():
                c[j] = x[a == j].mean()
    a = np.abs(x[:, None] - c[None]).argmin(1)
    return (x - c[a]) ** 2


def per_channel_gain(onnx_path):
    for bits in (4, 5, 6):
        layer = channel = 0.0
        for _, w in conv_weights(onnx_path):
            w2 = w.reshape(w.shape[0], -1).astype(np.float64)
            mask = w2 != 0
            layer += kmeans_sse(w2[mask], 2 ** bits).sum()
            rms = np.sqrt((w2 ** 2).sum(1) / np.maximum(mask.sum(1), 1))
            rms[rms == 0] = 1
            rows = np.repeat(np.arange(w2.shape[0]), mask.sum(1))
            channel += (kmeans_sse((w2 / rms[:, None])[mask], 2 ** bits) * rms[rows] ** 2).sum()
        print(f"{bits} bits: k-means per channel / per layer squared error {channel / layer:.3f}")


def main(argv):
    if len(argv) not in (2, 4) or (len(argv) == 4 and argv[2] != "--float-onnx"):
        sys.exit(__doc__)
    tool = os.environ.get("TOOL", "build/cli/squeeze-compress")
    totals = {}
    with tempfile.TemporaryDirectory() as tmp:
        decoded = os.path.join(tmp, "decoded.onnx")
        subprocess.run([tool, "decode", argv[1], "-o", decoded, "-q"], check=True)
        for name, w in conv_weights(decoded):
            for key, bits in streams(name, w).items():
                totals[key] = totals.get(key, 0.0) + bits / 8
    for key, b in totals.items():
        print(f"{key:58s} {b:10.0f} bytes")
    if len(argv) == 4:
        per_channel_gain(argv[3])


if __name__ == "__main__":
    main(sys.argv)
