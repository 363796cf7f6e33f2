"""squeeze_compress in a few lines: classify with the preprocessing a model records, compress
with a progress bar, and check the result on the same images.
usage: python3 classify_and_compress.py MODEL IMAGE_FOLDER OUT.sqz"""
import pathlib
import sys

import numpy as np

import squeeze_compress as sc


def main(model_path: str, images: str, out: str) -> None:
    files = sorted(p for p in pathlib.Path(images).rglob("*.png"))[:50]
    model = sc.open(model_path)
    print(f"{model}: {model.preprocess} ({model.preprocess_source})")
    before = np.stack([model.classify(f) for f in files])
    result = sc.compress(model_path, out, force=True, bits=4, density=0.4, calib=images,
                         calib_steps=20, retrain_steps=20, progress=sc.TqdmProgress(leave=False))
    small = sc.open(out)
    after = np.stack([small.classify(f) for f in files])
    agree = np.mean(before.argmax(1) == after.argmax(1))
    print(f"wrote {out}: {result['bytes']} bytes; top-1 agreement with the input {agree:.0%} "
          f"on {len(files)} images")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__.splitlines()[-1])
    main(*sys.argv[1:])
