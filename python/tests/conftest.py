"""Fixtures for the Python module's tests: the built package (PYTHONPATH=build/python, set by
CTest), the CLI beside it, the shared data (../shared; tests that need it skip without it) and
small labelled Fashion-MNIST image folders made from Debian's dataset-fashion-mnist."""
import os
import pathlib
import subprocess
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "examples"))
from fashion_folders import fashion_folder  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
BUILD = pathlib.Path(os.environ.get("SQZ_BUILD", ROOT / "build"))
CLI = BUILD / "cli" / "squeeze-compress"
SHARED = pathlib.Path(os.environ.get("SQZ_SHARED", ROOT.parent / "shared"))
RELEASE = SHARED / "models" / "squeezenet_v1.0_deep_compression"
FASHION_IDX = pathlib.Path("/usr/share/datasets/fashion-mnist")
FASHION_MODEL = ROOT / "samples" / "fashion_squeezenet.onnx"


def run_cli(*args, check=True):
    r = subprocess.run([str(CLI), *map(str, args)], capture_output=True, text=True)
    if check and r.returncode != 0:
        raise AssertionError(f"squeeze-compress {' '.join(map(str, args))}: {r.stderr}")
    return r


@pytest.fixture(scope="session")
def fashion(tmp_path_factory):
    if not (FASHION_IDX / "train-images-idx3-ubyte.gz").exists():
        pytest.skip("dataset-fashion-mnist is not installed")
    root = tmp_path_factory.mktemp("fashion")
    return {"train": fashion_folder(root / "train", "train", 400),
            "test": fashion_folder(root / "test", "t10k", 300)}


# How the sample was trained (samples/fashion.cc): pixels / 255, then the training set's moments.
FASHION_FLAGS = ["--resize-mode", "none", "--pixel-divisor", "255", "--mean", "0.286", "--std", "0.353"]


@pytest.fixture(scope="session")
def fashion_sqz(tmp_path_factory):
    """The sample Fashion-MNIST SqueezeNet as a .sqz recording how it was trained."""
    out = tmp_path_factory.mktemp("model") / "fashion.sqz"
    run_cli("encode", FASHION_MODEL, "-o", out, "-q", *FASHION_FLAGS)
    return out


@pytest.fixture(scope="session")
def release():
    if not RELEASE.exists():
        pytest.skip(f"{SHARED} is absent (the released SqueezeNet); skipping")
    return RELEASE


@pytest.fixture(scope="session")
def torch_available():
    pytest.importorskip("torch", reason="python3-torch is not installed")
    return True
