"""Writes Fashion-MNIST images (Debian's dataset-fashion-mnist) as PNGs in ImageFolder class
folders 0..9: OUT/train (COUNT training images) and OUT/test (COUNT test images).
usage: python3 fashion_folders.py OUT COUNT"""
import gzip
import pathlib
import sys

import numpy as np

IDX = pathlib.Path("/usr/share/datasets/fashion-mnist")


def read_idx(name: str) -> np.ndarray:
    with gzip.open(IDX / name, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * dims).reshape(shape)


def fashion_folder(root: pathlib.Path, split: str, count: int) -> pathlib.Path:
    """The first `count` images of the train or t10k split under root/<class>/."""
    from PIL import Image

    images = read_idx(f"{split}-images-idx3-ubyte.gz")
    labels = read_idx(f"{split}-labels-idx1-ubyte.gz")
    for c in range(10):
        (root / str(c)).mkdir(parents=True, exist_ok=True)
    for i in range(count):
        Image.fromarray(images[i]).save(root / str(int(labels[i])) / f"{split}_{i:05d}.png")
    return root


if __name__ == "__main__":
    if len(sys.argv) != 3 or not sys.argv[2].isdigit() or not 1 <= int(sys.argv[2]) <= 10000:
        sys.exit(__doc__.splitlines()[-1])
    out = pathlib.Path(sys.argv[1])
    fashion_folder(out / "train", "train", int(sys.argv[2]))
    fashion_folder(out / "test", "t10k", int(sys.argv[2]))
