"""Labelled retraining in PyTorch through squeeze-compress's hook protocol.

Pruned stage (prune --retrain-cmd, between pruning steps):
    python3 -m squeeze_compress.torch_retrain {in} {masks} {out} --data DIR [options]
Quantized stage (quantize --retrain-cmd, after weight sharing; paper Eq. 3):
    python3 -m squeeze_compress.torch_retrain {in} {masks} {out} --codes {codes} --data DIR

{in} is the model as ONNX (its preprocessing recorded as the "squeeze_compress.preprocess"
property), {masks} the same graph with 0/1 weights, {codes} each weight's code index (-1
pruned, -2 in a layer without a codebook). The model is rebuilt as a torch.nn.Module from the
ONNX graph (the op set the importers accept), fine-tuned on labelled images with cross-entropy
plus distillation from the input model (as compress --train does), and written to {out} as the
input ONNX with new weights. Pruned stage: the masks are enforced after every optimizer step,
so pruned weights stay exactly 0. Quantized stage: each layer's weights are its centroids
gathered by the fixed codes, so only centroids (and biases) train.

Runs unchanged under torchrun --nproc_per_node N (DistributedDataParallel; gloo on CPU, nccl
with GPUs); rank 0 writes {out}. Data: an ImageFolder tree (class folders; integer names are
the class index, other names are sorted) or --label-file with 'relative/path<TAB>class' lines.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
from typing import Dict, List, Optional, Tuple

import numpy as np
import onnx
import torch
import torch.distributed as dist
import torch.nn.functional as F
from onnx import numpy_helper

from . import Preprocessor

PREPROCESS_KEY = "squeeze_compress.preprocess"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".JPG", ".JPEG", ".PNG")


def _attrs(node: onnx.NodeProto) -> dict:
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _key(name: str) -> str:
    return name.replace(".", "_").replace("/", "_")


def _pad(x: torch.Tensor, pads: List[int], value: float = 0.0) -> Tuple[torch.Tensor, int, int]:
    """ONNX pads (top, left, bottom, right) -> symmetric padding for torch, the rest as F.pad."""
    top, left, bottom, right = pads
    ph, pw = min(top, bottom), min(left, right)
    if (top, left, bottom, right) != (ph, pw, ph, pw):
        x = F.pad(x, (left - pw, right - pw, top - ph, bottom - ph), value=value)
    return x, ph, pw


class OnnxNet(torch.nn.Module):
    """The ONNX graph the exporter writes (Conv, Relu, MaxPool, AveragePool, Global pools,
    Concat, Add/Sum, Dropout, Flatten, Softmax) as a module whose convolution weights and
    biases are parameters. forward returns the logits (a final Softmax is left out)."""

    def __init__(self, model: onnx.ModelProto, codes: Optional[Dict[str, np.ndarray]] = None):
        super().__init__()
        g = model.graph
        self.nodes = list(g.node)
        self.input_name = g.input[0].name
        self.output_name = g.output[0].name
        init = {t.name: numpy_helper.to_array(t) for t in g.initializer}
        self.weight_names = [n.input[1] for n in self.nodes if n.op_type == "Conv"]
        self.bias_names = [n.input[2] for n in self.nodes if n.op_type == "Conv" and len(n.input) > 2]
        self.params = torch.nn.ParameterDict()
        self.codes: Dict[str, torch.Tensor] = {}
        for name in self.weight_names + self.bias_names:
            value = torch.tensor(init[name], dtype=torch.float32)
            code = None if codes is None or name in self.bias_names else codes.get(name)
            if code is not None and (code >= 0).any():
                self._add_centroids(name, value, code)
            else:
                self.params[_key(name)] = torch.nn.Parameter(value)
        if self.nodes and self.nodes[-1].op_type == "Softmax":
            self.output_name = self.nodes[-1].input[0]
            self.nodes = self.nodes[:-1]

    def _add_centroids(self, name: str, value: torch.Tensor, code: np.ndarray) -> None:
        """Layer `name` as centroids gathered by codes (paper Eq. 3): one parameter per code."""
        idx = torch.tensor(code, dtype=torch.long)
        books = int(idx.max().item()) + 1
        book = torch.zeros(books)
        stored = idx >= 0
        book[idx[stored]] = value[stored]  # every weight of a code holds its centroid
        self.params[_key(name)] = torch.nn.Parameter(book)
        self.codes[name] = idx

    def weight(self, name: str) -> torch.Tensor:
        p = self.params[_key(name)]
        if name not in self.codes:
            return p
        idx = self.codes[name]
        w = p[idx.clamp(min=0)]
        return torch.where(idx >= 0, w, torch.zeros_like(w))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        blobs = {self.input_name: x}
        for n in self.nodes:
            blobs[n.output[0]] = self._run(n, [blobs[i] for i in n.input if i in blobs])
        return torch.flatten(blobs[self.output_name], 1)

    def _run(self, n: onnx.NodeProto, xs: List[torch.Tensor]) -> torch.Tensor:
        a, op = _attrs(n), n.op_type
        if op == "Conv":
            bias = self.weight(n.input[2]) if len(n.input) > 2 else None
            x, ph, pw = _pad(xs[0], list(a.get("pads", [0, 0, 0, 0])))
            return F.conv2d(x, self.weight(n.input[1]), bias, tuple(a.get("strides", [1, 1])),
                            (ph, pw), 1, a.get("group", 1))
        if op == "Relu":
            return F.relu(xs[0])
        if op in ("MaxPool", "AveragePool"):
            fill = -math.inf if op == "MaxPool" else 0.0
            x, ph, pw = _pad(xs[0], list(a.get("pads", [0, 0, 0, 0])), fill)
            k, s = tuple(a["kernel_shape"]), tuple(a.get("strides", [1, 1]))
            ceil = bool(a.get("ceil_mode", 0))
            if op == "MaxPool":
                return F.max_pool2d(x, k, s, (ph, pw), ceil_mode=ceil)
            return F.avg_pool2d(x, k, s, (ph, pw), ceil_mode=ceil,
                                count_include_pad=bool(a.get("count_include_pad", 0)))
        if op == "GlobalAveragePool":
            return xs[0].mean(dim=(2, 3), keepdim=True)
        if op == "GlobalMaxPool":
            return xs[0].amax(dim=(2, 3), keepdim=True)
        if op == "Concat":
            return torch.cat(xs, dim=a.get("axis", 1))
        if op in ("Add", "Sum"):
            return sum(xs[1:], xs[0])
        if op == "Dropout":
            return xs[0]
        if op == "Flatten":
            return torch.flatten(xs[0], a.get("axis", 1))
        if op == "Softmax":
            return F.softmax(xs[0], dim=a.get("axis", 1))
        raise ValueError(f"torch_retrain: the ONNX op {op} ({n.name}) is not supported")

    def dense_weights(self) -> Dict[str, np.ndarray]:
        """Every convolution's weights and biases as the ONNX initializers hold them."""
        with torch.no_grad():
            return {name: self.weight(name).detach().cpu().numpy().astype(np.float32)
                    for name in self.weight_names + self.bias_names}


def read_initializers(path: str) -> Dict[str, np.ndarray]:
    return {t.name: numpy_helper.to_array(t) for t in onnx.load(path).graph.initializer}


def list_dataset(data: str, label_file: Optional[str]) -> List[Tuple[str, int]]:
    """(path, class) pairs from a label file or an ImageFolder tree."""
    items: List[Tuple[str, int]] = []
    if label_file:
        with open(label_file, encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                path, _, label = line.rstrip("\n").partition("\t")
                if not label.strip().isdigit() or os.path.isabs(path) or ".." in path.split("/"):
                    sys.exit(f"torch_retrain: {label_file}:{number}: want 'relative/path<TAB>class'")
                items.append((os.path.join(data, path), int(label)))
        return items
    folders = sorted(d for d in os.listdir(data) if os.path.isdir(os.path.join(data, d)))
    numeric = all(d.isdigit() for d in folders)
    for index, d in enumerate(sorted(folders, key=int) if numeric else folders):
        label = int(d) if numeric else index
        for root, _, files in os.walk(os.path.join(data, d)):
            items += [(os.path.join(root, f), label) for f in sorted(files) if f.endswith(IMAGE_SUFFIXES)]
    return items


class ImageSet(torch.utils.data.Dataset):
    def __init__(self, items: List[Tuple[str, int]], pre: Preprocessor, mirror: bool):
        self.items, self.pre, self.mirror = items, pre, mirror

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int):
        path, label = self.items[i]
        x = torch.from_numpy(self.pre.load(path))
        if self.mirror and torch.rand(()) < 0.5:
            x = torch.flip(x, dims=(2,))
        return x, label


def distributed() -> Tuple[int, int, torch.device]:
    """(rank, world size, device); initialises the process group under torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    cuda = torch.cuda.is_available()
    if world > 1:
        dist.init_process_group("nccl" if cuda else "gloo")
    rank = dist.get_rank() if world > 1 else 0
    local = int(os.environ.get("LOCAL_RANK", "0"))
    device = torch.device(f"cuda:{local}" if cuda else "cpu")
    return rank, world, device


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python3 -m squeeze_compress.torch_retrain",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("model", help="{in}: the model as ONNX")
    p.add_argument("masks", help="{masks}: 0/1 weights as ONNX")
    p.add_argument("out", help="{out}: where the retrained ONNX goes")
    p.add_argument("--codes", help="{codes}: the quantized stage (train centroids, codes fixed)")
    p.add_argument("--data", required=True, help="labelled images: ImageFolder, or the root of --label-file")
    p.add_argument("--label-file", help="'relative/path<TAB>class' lines under --data")
    p.add_argument("--preprocess", help="record or preset (default: what {in} records, else Caffe's)")
    p.add_argument("--epochs", type=float, default=1.0, help="passes over the data (default 1)")
    p.add_argument("--steps", type=int, default=0, help="optimizer steps (overrides --epochs)")
    p.add_argument("--batch", type=int, default=32, help="images per step and process")
    p.add_argument("--lr", type=float, default=1e-4, help="Adam learning rate (cosine-decayed)")
    p.add_argument("--label-weight", type=float, default=0.5,
                   help="loss = w x cross-entropy + (1 - w) x distillation from {in}")
    p.add_argument("--temperature", type=float, default=1.0, help="distillation temperature")
    p.add_argument("--mirror", action="store_true", help="random horizontal mirroring")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=0, help="torch threads per process (0: torch's)")
    a = p.parse_args(argv)
    if (a.batch < 1 or a.steps < 0 or not 0 < a.epochs <= 1e6 or not 0 <= a.label_weight <= 1
            or not 0 < a.lr <= 10 or not 0 < a.temperature <= 100 or a.threads < 0):
        p.error("wants --batch >= 1, --steps >= 0, --epochs in (0, 1e6], --lr in (0, 10], "
                "--label-weight in [0, 1], --temperature in (0, 100], --threads >= 0")
    return a


def enforce_masks(net: OnnxNet, masks: Dict[str, torch.Tensor]) -> None:
    with torch.no_grad():
        for name, m in masks.items():
            if name not in net.codes:
                net.params[_key(name)].mul_(m)


def accuracy(net: torch.nn.Module, loader) -> float:
    right = total = 0
    with torch.no_grad():
        for x, y in loader:
            right += int((net(x).argmax(1) == y).sum())
            total += len(y)
    return right / max(total, 1)


def train(args: argparse.Namespace) -> int:
    rank, world, device = distributed()
    torch.manual_seed(args.seed)
    if args.threads:
        torch.set_num_threads(args.threads)
    model = onnx.load(args.model)
    recorded = {p.key: p.value for p in model.metadata_props}.get(PREPROCESS_KEY, "")
    shape = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim][1:]
    pre = Preprocessor(args.preprocess or recorded, shape)
    codes = read_initializers(args.codes) if args.codes else None
    net = OnnxNet(model, codes).to(device)
    teacher = OnnxNet(model).to(device).eval()
    masks = {n: torch.tensor(v != 0, dtype=torch.float32, device=device)
             for n, v in read_initializers(args.masks).items() if n in net.weight_names}
    enforce_masks(net, masks)
    items = list_dataset(args.data, args.label_file)
    if not items:
        sys.exit(f"torch_retrain: no labelled images under {args.data}")
    with torch.no_grad():
        classes = teacher(torch.zeros(1, *shape, device=device)).shape[1]
    too_big = max(label for _, label in items)
    if too_big >= classes:  # a class list that does not fit the model is refused, not trained
        sys.exit(f"torch_retrain: {args.label_file or args.data}: class {too_big} is past the "
                 f"model's {classes} outputs")
    data = ImageSet(items, pre, args.mirror)
    sampler = torch.utils.data.DistributedSampler(data, world, rank, seed=args.seed) if world > 1 else None
    loader = torch.utils.data.DataLoader(data, args.batch, shuffle=sampler is None, sampler=sampler,
                                         drop_last=len(data) >= args.batch * world)
    steps = args.steps or max(1, int(args.epochs * len(loader)))
    student = torch.nn.parallel.DistributedDataParallel(net) if world > 1 else net
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    t = args.temperature
    step = epoch = 0
    while step < steps:
        if sampler is not None:
            sampler.set_epoch(epoch)
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            logits = student(x)
            with torch.no_grad():
                soft = F.softmax(teacher(x) / t, dim=1)
            distill = F.kl_div(F.log_softmax(logits / t, dim=1), soft, reduction="batchmean") * t * t
            loss = args.label_weight * F.cross_entropy(logits, y) + (1 - args.label_weight) * distill
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            enforce_masks(net, masks)  # pruned weights stay exactly 0
            step += 1
            if rank == 0 and (step % 50 == 0 or step == steps):
                print(f"torch_retrain: step {step}/{steps} loss {loss.item():.4f}", file=sys.stderr)
            if step == steps:
                break
        epoch += 1
    if rank == 0:
        write_onnx(model, net.dense_weights(), args.out)
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()
    return 0


def write_onnx(model: onnx.ModelProto, weights: Dict[str, np.ndarray], out: str) -> None:
    """The input graph with new initializer values, written atomically."""
    for t in model.graph.initializer:
        if t.name in weights:
            t.CopyFrom(numpy_helper.from_array(weights[t.name].reshape(tuple(t.dims)), t.name))
    tmp = out + ".tmp"
    onnx.save(model, tmp)
    os.replace(tmp, out)


def main(argv: Optional[List[str]] = None) -> int:
    return train(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
