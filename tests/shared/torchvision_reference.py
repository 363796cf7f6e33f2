#!/usr/bin/python3
"""The release SqueezeNet re-expressed for torchvision's input convention, and an independent
reference of it: torchvision's transforms written again with PIL and numpy, the tensors run by
ONNX Runtime (through ort_run.js).

make  SHARED_ONNX OUT.onnx: conv1 absorbs the change of convention exactly. Caffe's input is
      x_c[c] = v[2 - c] - mean[c] (BGR); torchvision's x_t[r] = (v[r] / 255 - m[r]) / s[r], so
      v[r] = 255 (s[r] x_t[r] + m[r]) and conv1 (no padding) becomes W'[o][r] = 255 s[r]
      W[o][2 - r], b'[o] = b[o] + sum W[o][2 - r] (255 m[r] - mean[2 - r]).
input DIR CLASSES OUT.f32 OUT.labels: preprocesses every DIR/<wnid>/<file> as torchvision does
      for a 227 crop: Resize(259) (shorter side, bilinear, antialiased as PIL resizes), CenterCrop
      (227), ToTensor, Normalize(ImageNet mean, std).
score LOGITS.f32 LABELS: prints "top1 top5 images".
"""
import os
import sys

import numpy as np

MEAN, STD = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
CAFFE_MEAN_BGR = np.array([104.0, 117.0, 123.0])


def make(src, dst):
    import onnx
    from onnx import numpy_helper
    m = onnx.load(src)
    conv1 = m.graph.node[0]
    inits = {i.name: i for i in m.graph.initializer}
    w = numpy_helper.to_array(inits[conv1.input[1]]).astype(np.float64)
    b = numpy_helper.to_array(inits[conv1.input[2]]).astype(np.float64)
    assert conv1.op_type == "Conv" and all(p == 0 for a in conv1.attribute if a.name == "pads" for p in a.ints)
    w_rgb = w[:, ::-1, :, :]  # input channel r of the new model reads Caffe's channel 2 - r
    w_new = w_rgb * (255.0 * STD)[None, :, None, None]
    shift = 255.0 * MEAN - CAFFE_MEAN_BGR[::-1]  # per RGB channel
    b_new = b + (w_rgb * shift[None, :, None, None]).sum(axis=(1, 2, 3))
    inits[conv1.input[1]].CopyFrom(numpy_helper.from_array(w_new.astype(np.float32), conv1.input[1]))
    inits[conv1.input[2]].CopyFrom(numpy_helper.from_array(b_new.astype(np.float32), conv1.input[2]))
    for vi in list(m.graph.input) + list(m.graph.output):  # any batch
        vi.type.tensor_type.shape.dim[0].dim_param = "N"
    onnx.save(m, dst)


def preprocess(path, crop=227, resize=259):
    from PIL import Image
    img = Image.open(path).convert("RGB")
    w, h = img.size
    if w <= h:
        ow, oh = resize, int(resize * h / w)
    else:
        ow, oh = int(resize * w / h), resize
    img = img.resize((ow, oh), Image.BILINEAR)
    top, left = int(round((oh - crop) / 2.0)), int(round((ow - crop) / 2.0))
    img = img.crop((left, top, left + crop, top + crop))
    x = np.asarray(img, dtype=np.float32) / 255.0
    x = (x - MEAN) / STD
    return x.transpose(2, 0, 1).astype(np.float32)


def inputs(root, classes, out, labels_out):
    wnids = [line.split()[0] for line in open(classes) if line.strip()]
    index = {w: i for i, w in enumerate(wnids)}
    xs, ys = [], []
    for folder in sorted(os.listdir(root)):
        for f in sorted(os.listdir(os.path.join(root, folder))):
            xs.append(preprocess(os.path.join(root, folder, f)))
            ys.append(index[folder])
    np.stack(xs).tofile(out)
    np.array(ys, dtype=np.int32).tofile(labels_out)
    print(len(ys))


def score(logits_path, labels_path):
    y = np.fromfile(labels_path, dtype=np.int32)
    z = np.fromfile(logits_path, dtype=np.float32).reshape(len(y), -1)
    top5 = np.argsort(-z, axis=1, kind="stable")[:, :5]
    print(f"{np.mean(top5[:, 0] == y):.4f} {np.mean((top5 == y[:, None]).any(axis=1)):.4f} {len(y)}")


if __name__ == "__main__":
    {"make": make, "input": inputs, "score": score}[sys.argv[1]](*sys.argv[2:])
