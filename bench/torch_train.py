#!/usr/bin/env python3
"""PyTorch's training throughput on an ONNX SqueezeNet: the peer of build/bench/bench_train.

The same step as bench_train's: random inputs of the model's shape, labels image i modulo
the classes, forward, cross-entropy, backward and Adam (lr 1e-3), dropout 0.5 where the model
has Dropout; 3 untimed steps, then STEPS timed. The network is rebuilt from the ONNX graph by
squeeze_compress.torch_retrain.OnnxNet (its ops, and a flattening Reshape and Identity, which
the generated variants use), with PyTorch's own kernels (oneDNN on x86), in channels_last unless --layout nchw.

usage: python3 bench/torch_train.py MODEL.onnx --batch N --threads N [--steps N]
       [--layout channels_last|nchw]
Prints "torch training, batch B, T thread(s): X images/s".
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'build', 'python'))
sys.path.insert(1, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'python'))


def count(lo, hi):
    def parse(text):
        if not text.isdigit() or not lo <= int(text) <= hi:
            raise argparse.ArgumentTypeError('takes %d to %d, not %r' % (lo, hi, text))
        return int(text)
    return parse


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, as every benchmark's refusal
        sys.stderr.write('torch_train.py: %s\n' % message)
        sys.exit(2)


def main():
    p = Parser(prog='torch_train.py', description=__doc__.split('\n')[0])
    p.add_argument('model')
    p.add_argument('--batch', type=count(1, 1024), required=True)
    p.add_argument('--threads', type=count(1, 256), required=True)
    p.add_argument('--steps', type=count(1, 100000), default=20)
    p.add_argument('--layout', choices=('channels_last', 'nchw'), default='channels_last',
                   help="the activations' and weights' memory format (default channels_last)")
    args = p.parse_args()
    try:
        import onnx
        import torch
        import torch.nn.functional as F
        from squeeze_compress.torch_retrain import OnnxNet
    except ImportError as e:
        sys.exit('torch_train.py: %s (python3-torch and python3-onnx: '
                 'scripts/install-deps.sh --tests)' % e)

    class Net(OnnxNet):
        def _run(self, n, xs):
            if n.op_type == 'Dropout':
                return F.dropout(xs[0], 0.5, self.training)
            if n.op_type == 'Identity':
                return xs[0]
            if n.op_type == 'Reshape':  # the importer takes only the flattening [N, -1]
                return torch.flatten(xs[0], 1)
            return super()._run(n, xs)

    try:
        model = onnx.load(args.model)
        net = Net(model)
    except Exception as e:  # any reason the file is not a network OnnxNet builds: one line
        sys.exit('torch_train.py: %s: %s' % (args.model, str(e).split('\n')[0]))
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    if len(dims) != 4 or min(dims[1:]) < 1:
        sys.exit('torch_train.py: %s: the input is not one image of fixed size (NCHW)' % args.model)
    # channels_last by default: PyTorch's faster layout for convolutions on CPU (oneDNN's NHWC
    # kernels; docs/performance-log.md: on a 224x224 SqueezeNet 1.4x NCHW's images/s on the
    # Zen 4 of session 34), so that the peer runs as a user tuning it would; --layout nchw for
    # PyTorch's default.
    form = torch.channels_last if args.layout == 'channels_last' else torch.contiguous_format
    x = torch.randn(args.batch, *dims[1:]).contiguous(memory_format=form)
    net = net.to(memory_format=form)
    net.train()
    with torch.no_grad():
        classes = net(x[:1]).shape[1]
    y = torch.arange(args.batch) % classes
    opt = torch.optim.Adam([w for w in net.parameters() if w.requires_grad], lr=1e-3)

    def step():
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(net(x), y).backward()
        opt.step()

    for _ in range(3):
        step()
    t0 = time.perf_counter()
    for _ in range(args.steps):
        step()
    rate = args.steps * args.batch / (time.perf_counter() - t0)
    print('torch training, batch %d, %d thread(s): %.1f images/s' % (args.batch, args.threads, rate))


if __name__ == '__main__':
    main()
