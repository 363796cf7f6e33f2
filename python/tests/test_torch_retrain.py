"""squeeze_compress.torch_retrain through the hook protocol, on a few hundred Fashion-MNIST
images: masks hold exactly, accuracy does not fall below the pruned model's, torchrun with two
gloo processes completes, and the centroid stage changes centroids only."""
import json
import os
import sys

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="python3-onnx is not installed")
from onnx import numpy_helper  # noqa: E402

import squeeze_compress as sc
from conftest import run_cli

PYTHON = sys.executable
SCRIPT = f"{PYTHON} -m squeeze_compress.torch_retrain"
# Debian's torchrun (torch 1.13 under Python 3.11) fails on its default --redirects/--tee of 0.
TORCHRUN = f"{PYTHON} -m torch.distributed.run --nproc_per_node 2 --redirects 2 --tee 2 -m squeeze_compress.torch_retrain"


@pytest.fixture(autouse=True)
def package_on_path(monkeypatch):
    """The hook command runs in a shell: it finds the package as this process does."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in sys.path if p))


def accuracy(model_path, folder):
    model = sc.open(model_path)
    images = [(p, int(d.name)) for d in sorted(folder.iterdir()) for p in sorted(d.iterdir())]
    return np.mean([model.classify(p).argmax() == label for p, label in images])


def initializers(path):
    return {t.name: numpy_helper.to_array(t) for t in onnx.load(str(path)).graph.initializer}


def keep_files(folder):
    """A shell suffix that copies the hook's files into `folder` for inspection."""
    return f" && cp {{masks}} {folder}/masks.onnx && cp {{out}} {folder}/out.onnx"


def test_pruned_stage_keeps_masks_and_recovers_accuracy(torch_available, fashion_sqz, fashion, tmp_path):
    pruned, retrained = tmp_path / "pruned.sqz", tmp_path / "retrained.sqz"
    run_cli("prune", fashion_sqz, "--global-density", "0.15", "-o", pruned, "-q")
    cmd = (f"{SCRIPT} {{in}} {{masks}} {{out}} --data {fashion['train']} --epochs 4 --lr 1e-3"
           + keep_files(tmp_path))
    r = run_cli("prune", fashion_sqz, "--global-density", "0.15", "-o", retrained, "--json",
                "--retrain-cmd", cmd)
    assert json.loads(r.stdout)["mask_violations_reset"] == 0
    masks, out = initializers(tmp_path / "masks.onnx"), initializers(tmp_path / "out.onnx")
    weights = [n for n in masks if n.endswith(".weight")]
    assert weights
    for name in weights:  # the script's own output: zero exactly where the mask is 0
        assert np.all(out[name][masks[name] == 0] == 0), name
        assert np.count_nonzero(out[name][masks[name] == 1]) > 0, name
    before, after = accuracy(pruned, fashion["test"]), accuracy(retrained, fashion["test"])
    print(f"pruned to 15%: {before:.3f} -> retrained {after:.3f} on {len(list(fashion['test'].rglob('*.png')))} images")
    assert after >= before


def test_torchrun_with_two_gloo_processes(torch_available, fashion_sqz, fashion, tmp_path):
    out = tmp_path / "ddp.sqz"
    cmd = f"{TORCHRUN} {{in}} {{masks}} {{out}} --data {fashion['train']} --epochs 2 --lr 1e-3"
    run_cli("prune", fashion_sqz, "--global-density", "0.3", "-o", out, "-q", "--retrain-cmd", cmd)
    model = sc.open(out)  # a valid .sqz, read back
    assert model.preprocess == sc.open(fashion_sqz).preprocess
    assert accuracy(out, fashion["test"]) > 0.5


def test_label_file_and_bad_data(torch_available, fashion_sqz, fashion, tmp_path):
    files = sorted(fashion["train"].rglob("*.png"))[:64]
    (tmp_path / "labels.txt").write_text(
        "".join(f"{p.relative_to(fashion['train'])}\t{p.parent.name}\n" for p in files))
    cmd = f"{SCRIPT} {{in}} {{masks}} {{out}} --data {fashion['train']} --label-file {tmp_path}/labels.txt --steps 2"
    run_cli("prune", fashion_sqz, "--global-density", "0.5", "-o", tmp_path / "a.sqz", "-q", "--retrain-cmd", cmd)
    bad = f"{SCRIPT} {{in}} {{masks}} {{out}} --data {tmp_path}/empty --steps 2"
    (tmp_path / "empty").mkdir()
    r = run_cli("prune", fashion_sqz, "--global-density", "0.5", "-o", tmp_path / "b.sqz", "-q",
                "--retrain-cmd", bad, check=False)
    assert r.returncode == 1 and "retrain command failed" in r.stderr
    assert not (tmp_path / "b.sqz").exists()
    # A class past the model's outputs is refused, not trained on.
    (tmp_path / "past.txt").write_text(f"{files[0].relative_to(fashion['train'])}\t12\n")
    past = f"{SCRIPT} {{in}} {{masks}} {{out}} --data {fashion['train']} --label-file {tmp_path}/past.txt --steps 1"
    r = run_cli("prune", fashion_sqz, "--global-density", "0.5", "-o", tmp_path / "c.sqz", "-q",
                "--retrain-cmd", past, check=False)
    assert r.returncode == 1 and "class 12 is past the model's 10 outputs" in r.stderr


def test_centroid_stage_changes_centroids_only(torch_available, fashion_sqz, fashion, tmp_path):
    plain, tuned = tmp_path / "q2.sqz", tmp_path / "q2_tuned.sqz"
    run_cli("quantize", fashion_sqz, "--bits", "2", "-o", plain, "-q")
    cmd = (f"{SCRIPT} {{in}} {{masks}} {{out}} --codes {{codes}} --data {fashion['train']} "
           f"--epochs 4 --lr 1e-3")
    run_cli("quantize", fashion_sqz, "--bits", "2", "-o", tuned, "-q", "--retrain-cmd", cmd)
    a, b = sc.codebooks(plain), sc.codebooks(tuned)
    assert a.keys() == b.keys()
    changed = 0
    for name in a:
        (book_a, codes_a), (book_b, codes_b) = a[name], b[name]
        assert len(book_a) == len(book_b)
        # Every weight keeps its cluster: one-to-one between old and new code numbers.
        pairs = set(zip(codes_a.tolist(), codes_b.tolist()))
        assert len(pairs) == len({x for x, _ in pairs}) == len({y for _, y in pairs}), name
        changed += not np.array_equal(book_a, book_b)
    assert changed == len(a)
    assert os.path.getsize(tuned) == pytest.approx(os.path.getsize(plain), rel=0.02)
    before, after = accuracy(plain, fashion["test"]), accuracy(tuned, fashion["test"])
    print(f"2-bit codebooks: {before:.3f} -> centroids trained {after:.3f}")
    assert after >= before
