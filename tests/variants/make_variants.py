#!/usr/bin/python3
"""Writes small SqueezeNets as people export them, with the official onnx helpers (Debian's
python3-onnx), and a random input for each: OUT/<name>.onnx and OUT/<name>.input.f32.

The networks keep SqueezeNet's layout (Iandola et al. 2016: v1.0 and v1.1 stems and pooling,
Fire modules with 1x1 squeeze and 1x1 + 3x3 expands, conv10 + global average pooling) at
reduced widths, with the variations real exports have: simple and complex bypass (Sec. 6),
BatchNorm after bias-free convolutions, opset-9 ceil-mode pooling written as asymmetric pads,
auto_pad SAME_UPPER, Identity nodes, Flatten/Reshape/Softmax heads, a symbolic batch, 224 and
227 inputs, few or many classes.
usage: make_variants.py OUT_DIR
"""
import math
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

V10_FIRES = [(16, 64), (16, 64), (32, 128), (32, 128), (48, 192), (48, 192), (64, 256), (64, 256)]


class Net:
    def __init__(self, rng, opset, bn=False, same=False, identity=False):
        self.rng, self.opset, self.bn, self.same, self.identity = rng, opset, bn, same, identity
        self.nodes, self.inits, self.n = [], [], 0

    def name(self, prefix):
        self.n += 1
        return f"{prefix}_{self.n}"

    def const(self, array, prefix):
        name = self.name(prefix)
        self.inits.append(numpy_helper.from_array(array.astype(array.dtype), name))
        return name

    def conv(self, x, cin, cout, k, stride=1, pad=0, relu=True):
        fan_in = cin * k * k
        w = (self.rng.standard_normal((cout, cin, k, k)) * math.sqrt(2.0 / fan_in)).astype(np.float32)
        inputs = [x, self.const(w, "w")]
        if not self.bn:
            inputs.append(self.const((self.rng.standard_normal(cout) * 0.1).astype(np.float32), "b"))
        y = self.name("conv")
        attrs = {"kernel_shape": [k, k], "strides": [stride, stride]}
        if self.same and k == 3 and stride == 1:
            attrs["auto_pad"] = "SAME_UPPER"
        elif pad:
            attrs["pads"] = [pad, pad, pad, pad]
        self.nodes.append(helper.make_node("Conv", inputs, [y], name=y, **attrs))
        if self.bn:
            z = self.name("bn")
            parts = [self.rng.uniform(0.5, 1.5, cout), self.rng.standard_normal(cout) * 0.1,
                     self.rng.standard_normal(cout) * 0.1, self.rng.uniform(0.5, 2.0, cout)]
            names = [self.const(p.astype(np.float32), "bnp") for p in parts]
            self.nodes.append(helper.make_node("BatchNormalization", [y] + names, [z], name=z,
                                               epsilon=1e-3))
            y = z
        if relu:
            r = self.name("relu")
            self.nodes.append(helper.make_node("Relu", [y], [r], name=r))
            y = r
        return y

    def maxpool(self, x, size):
        """3x3/2 max pooling rounding up, as Caffe and torchvision's ceil_mode=True do."""
        y = self.name("pool")
        out = math.ceil((size - 3) / 2) + 1
        if self.opset >= 10:
            self.nodes.append(helper.make_node("MaxPool", [x], [y], name=y, kernel_shape=[3, 3],
                                               strides=[2, 2], ceil_mode=1))
        else:  # opset 9 has no ceil_mode: the exporter pads the end instead
            extra = (out - 1) * 2 + 3 - size
            self.nodes.append(helper.make_node("MaxPool", [x], [y], name=y, kernel_shape=[3, 3],
                                               strides=[2, 2], pads=[0, 0, extra, extra]))
        return y, out

    def fire(self, x, cin, squeeze, expand):
        s = self.conv(x, cin, squeeze, 1)
        if self.identity:
            i = self.name("identity")
            self.nodes.append(helper.make_node("Identity", [s], [i], name=i))
            s = i
        e1 = self.conv(s, squeeze, expand // 2, 1)
        e3 = self.conv(s, squeeze, expand // 2, 3, pad=1)
        y = self.name("concat")
        self.nodes.append(helper.make_node("Concat", [e1, e3], [y], name=y, axis=1))
        return y

    def add(self, a, b):
        y = self.name("add")
        self.nodes.append(helper.make_node("Add", [a, b], [y], name=y))
        return y


def squeezenet(name, version="1.0", size=227, classes=20, opset=13, bypass=None, bn=False,
               same=False, identity=False, head="flatten", batch="N", seed=1):
    rng = np.random.default_rng(seed)
    net = Net(rng, opset, bn=bn, same=same, identity=identity)
    if version == "1.0":
        x = net.conv("data", 3, 96, 7, stride=2)
        cin, spatial = 96, (size - 7) // 2 + 1
        pool_at = {4, 8}  # max pooling after fire4 and fire8
    else:
        x = net.conv("data", 3, 64, 3, stride=2)
        cin, spatial = 64, (size - 3) // 2 + 1
        pool_at = {3, 5}  # after fire3 and fire5
    x, spatial = net.maxpool(x, spatial)
    for i, (squeeze, expand) in enumerate(V10_FIRES):
        fire_no = i + 2
        y = net.fire(x, cin, squeeze, expand)
        if bypass and (fire_no % 2 == 1 and cin == expand):  # simple: fire3, 5, 7, 9
            y = net.add(y, x)
        elif bypass == "complex":  # a 1x1 convolution on the shortcut where channels change
            y = net.add(y, net.conv(x, cin, expand, 1, relu=False))
        x, cin = y, expand
        if fire_no in pool_at:
            x, spatial = net.maxpool(x, spatial)
    d = net.name("dropout")
    net.nodes.append(helper.make_node("Dropout", [x], [d], name=d,
                                      **({"ratio": 0.5} if opset < 12 else {})))
    x = net.conv(d, cin, classes, 1)
    g = net.name("gap")
    net.nodes.append(helper.make_node("GlobalAveragePool", [x], [g], name=g))
    out = g
    if head in ("flatten", "softmax"):
        out = net.name("flatten")
        net.nodes.append(helper.make_node("Flatten", [g], [out], name=out, axis=1))
    elif head == "reshape":
        shape = net.const(np.array([0, -1], dtype=np.int64), "shape")
        out = net.name("reshape")
        net.nodes.append(helper.make_node("Reshape", [g, shape], [out], name=out))
    if head == "softmax":
        s = net.name("softmax")
        net.nodes.append(helper.make_node("Softmax", [out], [s], name=s))  # opset 13: axis -1
        out = s
    graph = helper.make_graph(
        net.nodes, name,
        [helper.make_tensor_value_info("data", TensorProto.FLOAT, [batch, 3, size, size])],
        [helper.make_tensor_value_info(out, TensorProto.FLOAT,
                                       [batch, classes] + ([] if head != "none" else [1, 1]))],
        net.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="make_variants.py")
    model.ir_version = 7
    onnx.checker.check_model(model)
    return model, size


VARIANTS = {
    "v10": dict(version="1.0", size=227, classes=20),
    "v11": dict(version="1.1", size=224, classes=10, opset=11, head="reshape"),
    "v10_simple_bypass": dict(version="1.0", size=227, classes=20, bypass="simple"),
    "v10_complex_bypass": dict(version="1.0", size=227, classes=20, bypass="complex"),
    "v11_batchnorm": dict(version="1.1", size=224, classes=10, bn=True),
    # 226: (226 - 7) / 2 + 1 = 110 does not pool evenly, so the exporter pads the end
    "v10_opset9": dict(version="1.0", size=226, classes=20, opset=9, head="reshape", batch=1),
    "v11_same_identity_softmax": dict(version="1.1", size=224, classes=37, same=True,
                                      identity=True, head="softmax"),
    "v10_224_10class_gap": dict(version="1.0", size=224, classes=10, head="none"),
}


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for i, (name, kw) in enumerate(VARIANTS.items()):
        model, size = squeezenet(name, seed=100 + i, **kw)
        onnx.save(model, os.path.join(out, name + ".onnx"))
        n = 1 if kw.get("batch") == 1 else 2
        x = np.random.default_rng(7 + i).uniform(-1, 1, (n, 3, size, size)).astype(np.float32)
        x.tofile(os.path.join(out, name + ".input.f32"))
        print(name, f"{n},3,{size},{size}")


if __name__ == "__main__":
    main()
