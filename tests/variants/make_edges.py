#!/usr/bin/python3
"""Writes the corner cases of importing: small ONNX models that must match ONNX Runtime, ones
that must be refused with a named reason, and a Caffe model with BatchNorm + Scale, Eltwise
and bias-free convolutions beside its ONNX twin (same weights) for ONNX Runtime.

Each line of OUT/cases: NAME ort SHAPE [INPUT_SHAPE_OPTION]    (compare with ONNX Runtime)
                        NAME error TEXT...                      (must fail, naming TEXT)
                        NAME caffe SHAPE                        (NAME.prototxt/.caffemodel vs
                                                                 NAME.twin.onnx in ONNX Runtime)
usage: make_edges.py OUT_DIR CAFFE_PROTO
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

rng = np.random.default_rng(3)


def w(*shape, scale=0.3):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def model(nodes, inits, in_shape, out_shape, opset=13, out="y"):
    g = helper.make_graph(nodes, "edge",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, in_shape)],
                          [helper.make_tensor_value_info(out, TensorProto.FLOAT, out_shape)],
                          [numpy_helper.from_array(v, k) for k, v in inits.items()])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 7
    return m


def onnx_cases(out, cases):
    # The example: Softmax with ONNX's default axis -1 on [1, 10, 1, 1] is 1.0.
    m = model([helper.make_node("Conv", ["x", "w", "b"], ["c"], kernel_shape=[1, 1]),
               helper.make_node("GlobalAveragePool", ["c"], ["g"]),
               helper.make_node("Softmax", ["g"], ["y"])],
              {"w": w(10, 3, 1, 1), "b": w(10)}, [1, 3, 8, 8], [1, 10, 1, 1])
    save(out, "softmax_default_axis", m, cases, "ort 1,3,8,8")
    # A convolution without a bias, stride 2 with SAME_UPPER on an even input (asymmetric).
    m = model([helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[3, 3], strides=[2, 2],
                                auto_pad="SAME_UPPER")],
              {"w": w(4, 3, 3, 3)}, [1, 3, 10, 10], [1, 4, 5, 5])
    save(out, "conv_no_bias_same_upper", m, cases, "ort 1,3,10,10")
    # Symbolic height and width: refused without a shape, run with one.
    m = model([helper.make_node("Conv", ["x", "w", "b"], ["y"], kernel_shape=[3, 3], pads=[1, 1, 1, 1])],
              {"w": w(4, 3, 3, 3), "b": w(4)}, ["N", 3, "H", "W"], ["N", 4, "H", "W"])
    save(out, "symbolic_hw", m, cases, "error symbolic height/width; give the shape (--input-shape")
    save(out, "symbolic_hw_given", m, cases, "ort 1,3,12,16 --input-shape 1,3,12,16")
    # Asymmetric average pooling that excludes the padding, ceil_mode.
    m = model([helper.make_node("AveragePool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2],
                                pads=[1, 0, 2, 1], ceil_mode=1)],
              {}, [1, 3, 9, 10], None)
    save(out, "avgpool_asymmetric_ceil", m, cases, "ort 1,3,9,10")
    # Max pooling with pads that no ceil rounding expresses (top 1, bottom 0, left 0, right 2).
    m = model([helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2],
                                pads=[1, 0, 0, 2])],
              {}, [1, 3, 9, 10], None)
    save(out, "maxpool_asymmetric", m, cases, "ort 1,3,9,10")
    # Refused, each naming what it is.
    two = [helper.make_node("Relu", ["x"], ["a"]), helper.make_node("Relu", ["x"], ["b"])]
    save(out, "concat_axis0", model(two + [helper.make_node("Concat", ["a", "b"], ["y"], axis=0)],
                                    {}, [1, 3, 4, 4], None),
         cases, "error Concat along axis 0 is not supported")
    save(out, "reshape_2_rows", model([helper.make_node("Reshape", ["x", "s"], ["y"])],
                                      {"s": np.array([2, -1], dtype=np.int64)}, [1, 4, 2, 2], None),
         cases, "error Reshape to [2, -1] is not supported")
    save(out, "dilated_conv", model([helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[3, 3],
                                                      dilations=[2, 2])],
                                    {"w": w(4, 3, 3, 3)}, [1, 3, 9, 9], None),
         cases, "error dilations other than 1 are not supported")
    save(out, "leaky_relu", model([helper.make_node("LeakyRelu", ["x"], ["y"])], {}, [1, 3, 4, 4], None),
         cases, "error unsupported operator 'LeakyRelu'")
    # Hostile values (issue: stored truncated to 32 bits, or written into files readers refuse).
    save(out, "stride_2pow32_plus_2",
         model([helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[1, 1],
                                 strides=[2**32 + 2, 2**32 + 2])],
               {"w": w(4, 3, 1, 1)}, [1, 3, 8, 8], None),
         cases, "error invalid convolution parameters")
    save(out, "stride_70000",
         model([helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[1, 1], strides=[70000, 1])],
               {"w": w(4, 3, 1, 1)}, [1, 3, 8, 8], None),
         cases, "error invalid convolution parameters")
    save(out, "name_5000_bytes",
         model([helper.make_node("Relu", ["x"], ["y"], name="n" * 5000)], {}, [1, 3, 4, 4], None),
         cases, "error longer than the limit of 4096 bytes")
    relus = [helper.make_node("Relu", ["x"], [f"r{i}"]) for i in range(65)]
    save(out, "concat_65_inputs",
         model(relus + [helper.make_node("Concat", [f"r{i}" for i in range(65)], ["y"], axis=1)],
               {}, [1, 3, 4, 4], None),
         cases, "error more than the limit of 64")
    save(out, "relu_with_attribute",
         model([helper.make_node("Relu", ["x"], ["y"], foo=1)], {}, [1, 3, 4, 4], None),
         cases, "error attribute 'foo' is not supported")


def save(out, name, m, cases, expect):
    onnx.save(m, os.path.join(out, name + ".onnx"))
    cases.append(f"{name} {expect}")


def i64(*values):
    return np.array(values, dtype=np.int64)


def torch_head_cases(out, cases):
    """The heads torch.onnx.export writes after conv10: x.view(x.size(0), -1) as Shape ->
    Gather -> Unsqueeze -> Concat -> Reshape, x.view(-1, C) from a Constant node, x.squeeze()
    and x.squeeze(-1).squeeze(-1), x.mean((2, 3)); eval-mode only."""
    conv = helper.make_node("Conv", ["x", "w", "b"], ["c"], kernel_shape=[1, 1])
    gap = helper.make_node("GlobalAveragePool", ["c"], ["g"])
    cw = {"w": w(10, 3, 1, 1), "b": w(10)}
    batch = ["N", 3, 6, 6]
    for opset in (11, 13):  # Unsqueeze's axes: an attribute before 13, an input from 13
        axes = {"axes": [0]} if opset < 13 else {}
        unsq_in = ["n"] if opset < 13 else ["n", "zero_axis"]
        m = model([conv, gap, helper.make_node("Shape", ["g"], ["s"]),
                   helper.make_node("Gather", ["s", "zero"], ["n"], axis=0),
                   helper.make_node("Unsqueeze", unsq_in, ["n1"], **axes),
                   helper.make_node("Concat", ["n1", "minus_one"], ["t"], axis=0),
                   helper.make_node("Reshape", ["g", "t"], ["y"])],
                  {**cw, "zero": np.array(0, dtype=np.int64), "zero_axis": i64(0),
                   "minus_one": i64(-1)}, batch, ["N", 10], opset=opset)
        save(out, f"view_size0_opset{opset}", m, cases, "ort 3,3,6,6 --input-shape 3,3,6,6")
    m = model([conv, gap, helper.make_node("Constant", [], ["t"],
                                           value=numpy_helper.from_array(i64(-1, 10))),
               helper.make_node("Reshape", ["g", "t"], ["y"])], cw, batch, ["N", 10])
    save(out, "view_constant_node", m, cases, "ort 2,3,6,6 --input-shape 2,3,6,6")
    for name, nodes, inits, opset in [
        ("squeeze_planes", [helper.make_node("Squeeze", ["g", "ax"], ["y"])], {"ax": i64(2, 3)}, 13),
        ("squeeze_no_axes", [helper.make_node("Squeeze", ["g"], ["y"])], {}, 11),
        ("squeeze_one_by_one", [helper.make_node("Squeeze", ["g"], ["h"], axes=[-1]),
                                helper.make_node("Squeeze", ["h"], ["y"], axes=[-1])], {}, 11)]:
        m = model([conv, gap] + nodes, {**cw, **inits}, batch, ["N", 10], opset=opset)
        save(out, name, m, cases, "ort 2,3,6,6 --input-shape 2,3,6,6")
    m = model([conv, helper.make_node("ReduceMean", ["c"], ["y"], axes=[2, 3], keepdims=0)],
              cw, batch, ["N", 10])
    save(out, "reduce_mean_head", m, cases, "ort 2,3,6,6 --input-shape 2,3,6,6")
    m = model([conv, helper.make_node("ReduceMax", ["c"], ["y"], axes=[-1, -2])],
              cw, batch, ["N", 10, 1, 1])
    save(out, "reduce_max_keepdims", m, cases, "ort 2,3,6,6 --input-shape 2,3,6,6")
    # Refused, each naming what it is.
    m = model([conv, gap, helper.make_node("Shape", ["g"], ["s"]),
               helper.make_node("Gather", ["s", "one"], ["n"], axis=0),
               helper.make_node("Unsqueeze", ["n"], ["n1"], axes=[0]),
               helper.make_node("Concat", ["n1", "minus_one"], ["t"], axis=0),
               helper.make_node("Reshape", ["g", "t"], ["y"])],
              {**cw, "one": np.array(1, dtype=np.int64), "minus_one": i64(-1)}, [1, 3, 4, 4],
              None, opset=11)
    save(out, "view_channels_first", m, cases, "error Reshape to [10, -1] is not supported")
    m = model([conv, gap, helper.make_node("Squeeze", ["g"], ["h"], axes=[3]),
               helper.make_node("Relu", ["h"], ["y"])], cw, [1, 3, 4, 4], None, opset=11)
    save(out, "squeeze_then_relu", m, cases, "error a partly squeezed 3-D tensor")
    m = model([conv, gap, helper.make_node("Squeeze", ["g"], ["y"], axes=[0])], cw, [1, 3, 4, 4],
              None, opset=11)
    save(out, "squeeze_batch", m, cases, "error only for the 1x1 planes after global pooling")
    m = model([conv, helper.make_node("ReduceMean", ["c"], ["y"], axes=[1])], cw, [1, 3, 4, 4],
              None)
    save(out, "reduce_mean_channels", m, cases, "error supported only over axes 2 and 3")
    m = model([conv, helper.make_node("Dropout", ["c", "ratio", "train"], ["y"])],
              {**cw, "ratio": np.array(0.5, dtype=np.float32), "train": np.array(True)},
              [1, 3, 4, 4], None)
    save(out, "dropout_training_mode", m, cases, "error training mode (export the model in eval mode)")
    # Layers whose data is a constant or a shape (an error message "map::at" before).
    for op, extra in [("Conv", {"kernel_shape": [1, 1]}), ("Softmax", {}), ("MaxPool",
                                                                           {"kernel_shape": [1, 1]})]:
        ins = ["k", "w"] if op == "Conv" else ["k"]
        m = model([helper.make_node(op, ins, ["y"], **extra)],
                  {"k": w(1, 3, 4, 4), "w": w(2, 3, 1, 1)}, [1, 3, 4, 4], None)
        save(out, f"{op.lower()}_of_a_constant", m, cases,
             "error its data input 'k' is a constant or a shape")
    m = model([helper.make_node("Shape", ["x"], ["s"]), helper.make_node("Relu", ["s"], ["y"])], {},
              [1, 3, 4, 4], None)
    save(out, "relu_of_a_shape", m, cases, "error unsupported operator 'Relu' on a shape")


def caffe_case(out, caffe_proto, cases):
    """conv1 (no bias) -> BatchNorm -> Scale -> ReLU -> conv2 / conv3 -> Eltwise SUM -> GAP,
    as a Caffe prototxt + caffemodel and as the equivalent ONNX (BatchNormalization)."""
    tmp = tempfile.mkdtemp()
    subprocess.run(["protoc", f"--proto_path={os.path.dirname(caffe_proto)}", f"--python_out={tmp}",
                    caffe_proto], check=True)
    sys.path.insert(0, tmp)
    import caffe_pb2  # noqa: E402  (generated just above from the project's copy of caffe.proto)

    w1, w2, b2, w3, b3 = w(8, 3, 3, 3), w(6, 8, 1, 1), w(6), w(6, 8, 3, 3), w(6)
    mean, var, factor = w(8), rng.uniform(0.5, 2.0, 8).astype(np.float32), np.float32(2.0)
    gamma, beta = rng.uniform(0.5, 1.5, 8).astype(np.float32), w(8)
    eps = 1e-4
    proto = f"""name: "bn_eltwise"
input: "data"
input_shape {{ dim: 1 dim: 3 dim: 16 dim: 16 }}
layer {{ name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
  convolution_param {{ num_output: 8 kernel_size: 3 pad: 1 bias_term: false }} }}
layer {{ name: "bn1" type: "BatchNorm" bottom: "conv1" top: "conv1"
  batch_norm_param {{ use_global_stats: true eps: {eps} }} }}
layer {{ name: "scale1" type: "Scale" bottom: "conv1" top: "conv1" scale_param {{ bias_term: true }} }}
layer {{ name: "relu1" type: "ReLU" bottom: "conv1" top: "conv1" }}
layer {{ name: "conv2" type: "Convolution" bottom: "conv1" top: "conv2"
  convolution_param {{ num_output: 6 kernel_size: 1 }} }}
layer {{ name: "conv3" type: "Convolution" bottom: "conv1" top: "conv3"
  convolution_param {{ num_output: 6 kernel_size: 3 pad: 1 }} }}
layer {{ name: "sum" type: "Eltwise" bottom: "conv2" bottom: "conv3" top: "sum" }}
layer {{ name: "pool" type: "Pooling" bottom: "sum" top: "pool" pooling_param {{ pool: AVE global_pooling: true }} }}
"""
    with open(os.path.join(out, "caffe_bn_eltwise.prototxt"), "w") as f:
        f.write(proto)
    net = caffe_pb2.NetParameter()
    for name, blobs in [("conv1", [w1]), ("bn1", [mean * factor, var * factor, np.array([factor])]),
                        ("scale1", [gamma, beta]), ("conv2", [w2, b2]), ("conv3", [w3, b3])]:
        layer = net.layer.add()
        layer.name = name
        for b in blobs:
            blob = layer.blobs.add()
            blob.shape.dim.extend(b.shape)
            blob.data.extend(b.astype(np.float32).ravel().tolist())
    with open(os.path.join(out, "caffe_bn_eltwise.caffemodel"), "wb") as f:
        f.write(net.SerializeToString())
    twin = model([helper.make_node("Conv", ["x", "w1"], ["c1"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
                  helper.make_node("BatchNormalization", ["c1", "g", "bt", "m", "v"], ["n1"], epsilon=eps),
                  helper.make_node("Relu", ["n1"], ["r1"]),
                  helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], kernel_shape=[1, 1]),
                  helper.make_node("Conv", ["r1", "w3", "b3"], ["c3"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
                  helper.make_node("Add", ["c2", "c3"], ["s"]),
                  helper.make_node("GlobalAveragePool", ["s"], ["y"])],
                 {"w1": w1, "g": gamma, "bt": beta, "m": mean, "v": var, "w2": w2, "b2": b2,
                  "w3": w3, "b3": b3}, [1, 3, 16, 16], [1, 6, 1, 1])
    onnx.save(twin, os.path.join(out, "caffe_bn_eltwise.twin.onnx"))
    cases.append("caffe_bn_eltwise caffe 1,3,16,16")


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    cases = []
    onnx_cases(out, cases)
    torch_head_cases(out, cases)
    caffe_case(out, sys.argv[2], cases)
    with open(os.path.join(out, "cases"), "w") as f:
        f.write("\n".join(cases) + "\n")


if __name__ == "__main__":
    main()
