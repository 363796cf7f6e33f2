"""Writes a copy of an ONNX model whose first input and every output take batch N.

usage: python3 batch_onnx.py IN.onnx OUT.onnx N   (needs Debian's python3-onnx)
For the batched rows of bench/peer.sh: the released SqueezeNet fixes its batch at 1.
"""
import sys

import onnx

src, dst, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
model = onnx.load(src)
for value in list(model.graph.input[:1]) + list(model.graph.output):
    value.type.tensor_type.shape.dim[0].dim_value = n
del model.graph.value_info[:]  # inferred shapes of the batch-1 graph
onnx.checker.check_model(model)
onnx.save(model, dst)
