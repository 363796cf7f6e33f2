"""squeeze_compress against the command line: same logits, same bytes, errors as exceptions,
cancellation without output."""
import json
import os
import signal
import threading

import numpy as np
import pytest

import squeeze_compress as sc
from conftest import run_cli

def cli_scores(model, image):
    """{class: score} of `run --json --top 5`."""
    r = run_cli("run", model, image, "--json", "--top", "5", "-q")
    return {t["class"]: t["score"] for t in json.loads(r.stdout)[0]["top"]}


def check_like_cli(model_path, image):
    scores = sc.open(model_path).classify(image)
    want = cli_scores(model_path, image)
    m = sc.open(model_path)
    assert m.top_k(scores, 5) == list(want)
    assert m.top_k(scores, 10 ** 6) == m.top_k(scores, m.num_classes)  # at most every class
    for bad, words in ((np.stack([scores, scores]), "one image's"), (scores[:-1], "one image's")):
        with pytest.raises(sc.Error, match=words):  # not ranked as one long vector
            m.top_k(bad)
    for k in (0, -1, 2.5, True):
        with pytest.raises(sc.Error, match="whole k of at least 1"):
            m.top_k(scores, k)
    nan = scores.copy()
    nan[7] = np.nan
    with pytest.raises(sc.Error, match="score 7 is NaN"):
        m.top_k(nan)
    for c, s in want.items():  # run --json prints %.6g
        assert float(f"{scores[c]:.6g}") == s


def test_run_gives_the_cli_outputs_bit_for_bit(release, tmp_path):
    sqz = tmp_path / "release.sqz"
    run_cli("encode", release / "compressed_SqueezeNet.net", "--prototxt",
            release / "SqueezeNet_deploy.prototxt", "-o", sqz, "-q")
    x = np.random.default_rng(3).normal(0, 50, (2, 3, 227, 227)).astype(np.float32)
    x.tofile(tmp_path / "in.f32")
    run_cli("run", sqz, "--input-tensor", tmp_path / "in.f32", "--output-tensor", tmp_path / "out.f32")
    want = np.fromfile(tmp_path / "out.f32", np.float32).reshape(2, 1000)
    model = sc.open(sqz)
    assert np.array_equal(model.run(x), want)
    assert np.array_equal(model.run(x[1]), want[1])  # one (C, H, W) input
    assert np.array_equal(sc.open(sqz, threads=2).run(x), want)


def test_classify_follows_the_record_as_run_does(release, tmp_path):
    image = sorted((release.parent.parent / "images" / "calib").iterdir())[0]
    caffe = tmp_path / "caffe.sqz"
    torchvision = tmp_path / "torchvision.sqz"
    for out, extra in ((caffe, []), (torchvision, ["--preprocess", "torchvision"])):
        run_cli("encode", release / "compressed_SqueezeNet.net", "--prototxt",
                release / "SqueezeNet_deploy.prototxt", "-o", out, "-q", *extra)
        check_like_cli(out, image)
    assert sc.open(torchvision).preprocess_source == "recorded"
    assert "channels=rgb" in sc.open(torchvision).preprocess
    # The two records give different inputs, so different scores (the record is followed).
    assert not np.array_equal(sc.open(caffe).classify(image), sc.open(torchvision).classify(image))


def test_classify_takes_paths_pil_images_and_arrays(fashion_sqz, fashion):
    from PIL import Image

    model = sc.open(fashion_sqz)
    assert model.input_shape == (1, 28, 28) and model.num_classes == 10
    image = sorted((fashion["test"] / "3").iterdir())[0]  # PNG: the same pixels every way
    by_path = model.classify(image)
    check_like_cli(fashion_sqz, image)
    assert np.array_equal(model.classify(Image.open(image)), by_path)
    assert np.array_equal(model.classify(np.asarray(Image.open(image))), by_path)
    assert np.array_equal(model.classify(np.asarray(Image.open(image).convert("RGB"))), by_path)
    # Integer pixels in 0..255 are the same pixels; a float image (in 0..1, say) or values
    # out of range are refused rather than cast to other pixels and classified wrongly.
    pixels = np.asarray(Image.open(image))
    assert np.array_equal(model.classify(pixels.astype(np.int64)), by_path)
    for bad in (pixels / 255.0, pixels.astype(np.float32), pixels.astype(np.int64) + 300,
                pixels.astype(np.int64) - 1, pixels > 0):
        with pytest.raises(sc.Error, match="classify wants uint8 pixels") as e:
            model.classify(bad)
        assert e.value.code == "invalid_argument"


def test_compress_writes_the_bytes_the_cli_writes(fashion_sqz, fashion, tmp_path):
    cli_out, py_out = tmp_path / "cli.sqz", tmp_path / "py.sqz"
    run_cli("compress", fashion_sqz, "-o", cli_out, "--bits", "4", "--density", "0.4",
            "--layer-bits", "conv1=6", "--calib", fashion["train"], "--calib-steps", "5",
            "--retrain-steps", "5", "--moment-images", "16", "-q")
    events = []
    r = sc.compress(fashion_sqz, py_out, bits=4, density=0.4, layer_bits={"conv1": 6},
                    calib=str(fashion["train"]), calib_steps=5, retrain_steps=5, moment_images=16,
                    progress=lambda *e: events.append(e))
    assert py_out.read_bytes() == cli_out.read_bytes()
    assert r["bytes"] == os.path.getsize(py_out) and r["widths"]["conv1"] == 6
    assert [e[2] for e in events if e[0] == "stage"] == [1, 2, 3, 4, 5, 6]
    assert any(e[0] == "progress" for e in events)


def test_codebook_refit_bias_coding_method_mirrors_descent_and_pairs_write_what_the_cli_writes(fashion_sqz, fashion, tmp_path):
    common = dict(bits=4, calib=str(fashion["train"]), calib_steps=0, moment_images=16)
    run_cli("compress", fashion_sqz, "-o", tmp_path / "cli.sqz", "--bits", "4", "--calib",
            fashion["train"], "--calib-steps", "0", "--moment-images", "16",
            "--codebook-refit", "-q")
    sc.compress(fashion_sqz, tmp_path / "on.sqz", codebook_refit=True, **common)
    sc.compress(fashion_sqz, tmp_path / "off.sqz", **common)
    assert (tmp_path / "on.sqz").read_bytes() == (tmp_path / "cli.sqz").read_bytes()
    assert (tmp_path / "on.sqz").read_bytes() != (tmp_path / "off.sqz").read_bytes()
    # Biases: 8-bit by default, float32 with int8_biases=False as with --float32-biases.
    run_cli("compress", fashion_sqz, "-o", tmp_path / "cli32.sqz", "--bits", "4", "--calib",
            fashion["train"], "--calib-steps", "0", "--moment-images", "16",
            "--float32-biases", "-q")
    sc.compress(fashion_sqz, tmp_path / "f32.sqz", int8_biases=False, **common)
    assert (tmp_path / "f32.sqz").read_bytes() == (tmp_path / "cli32.sqz").read_bytes()
    assert os.path.getsize(tmp_path / "f32.sqz") > os.path.getsize(tmp_path / "off.sqz")
    # The uniform codebook, the moments without mirror images and the codes without coordinate
    # descent or without pair moves, as on the command line.
    for flag, keywords, name in (("--method=uniform", dict(method="uniform"), "uniform"),
                                 ("--no-augment", dict(augment=False), "plain"),
                                 ("--code-descent=0", dict(code_descent=0), "sweep"),
                                 ("--code-pairs=0", dict(code_pairs=0), "single"),
                                 ("--block-steps=5", dict(block_steps=5), "blocks")):
        run_cli("compress", fashion_sqz, "-o", tmp_path / f"cli_{name}.sqz", "--bits", "4",
                "--calib", fashion["train"], "--calib-steps", "0", "--moment-images", "16",
                flag, "-q")
        sc.compress(fashion_sqz, tmp_path / f"{name}.sqz", **keywords, **common)
        assert (tmp_path / f"{name}.sqz").read_bytes() == (tmp_path / f"cli_{name}.sqz").read_bytes()
        assert (tmp_path / f"{name}.sqz").read_bytes() != (tmp_path / "off.sqz").read_bytes()


def test_half_widths_write_what_the_cli_writes(fashion_sqz, fashion, tmp_path):
    common = dict(calib=str(fashion["train"]), calib_steps=0, moment_images=16)
    target = sc.compress(fashion_sqz, tmp_path / "five.sqz", bits=5, **common)["bytes"]
    common["probe_images"] = 4  # refused without target_bytes
    run_cli("compress", fashion_sqz, "-o", tmp_path / "cli.sqz", "--target-bytes", str(target),
            "--calib", fashion["train"], "--calib-steps", "0", "--moment-images", "16",
            "--probe-images", "4", "--half-widths", "-q")
    half = sc.compress(fashion_sqz, tmp_path / "half.sqz", target_bytes=target,
                       half_widths=True, **common)
    assert (tmp_path / "half.sqz").read_bytes() == (tmp_path / "cli.sqz").read_bytes()
    assert all(float(w * 2).is_integer() for w in half["widths"].values())
    whole = sc.compress(fashion_sqz, tmp_path / "whole.sqz", target_bytes=target, **common)
    assert all(w == int(w) for w in whole["widths"].values())
    assert half["bytes"] <= target and whole["bytes"] <= target


def test_quantize_and_prune_write_what_the_cli_writes(fashion_sqz, tmp_path):
    run_cli("quantize", fashion_sqz, "--bits", "3", "--layer-bits", "conv1=5", "-o", tmp_path / "cli.sqz", "-q")
    sc.quantize(fashion_sqz, tmp_path / "py.sqz", bits=3, layer_bits={"conv1": 5})
    assert (tmp_path / "py.sqz").read_bytes() == (tmp_path / "cli.sqz").read_bytes()
    r = sc.prune(fashion_sqz, tmp_path / "pruned.onnx", global_density=0.3)
    assert r["density_after"] == pytest.approx(0.3, abs=0.01)
    # The pruned model keeps the record it was read with.
    assert sc.open(tmp_path / "pruned.onnx").preprocess == sc.open(fashion_sqz).preprocess


def test_errors_are_exceptions_with_message_and_code(fashion_sqz, tmp_path):
    with pytest.raises(sc.Error) as e:
        sc.open(tmp_path / "missing.sqz")
    assert e.value.code == "io" and "missing.sqz" in e.value.message
    corrupt = tmp_path / "corrupt.sqz"
    data = bytearray(fashion_sqz.read_bytes())
    data[len(data) // 2] ^= 0xFF
    corrupt.write_bytes(bytes(data))
    with pytest.raises(sc.Error) as e:
        sc.open(corrupt)
    assert e.value.code in ("corrupt", "parse") and "corrupt.sqz" in str(e.value)
    out = tmp_path / "x.sqz"
    for bad, words in (({"bits": 9}, "bits must be in 1..8"), ({"bitz": 4}, "unknown option 'bitz'"),
                       ({"density": "half"}, "density must be a number"),
                       ({"calib_lr": -1.0}, "calib_lr"), ({"threads": 0}, "threads"),
                       ({"seed": 2 ** 70}, "seed must be in"), ({"density": 10 ** 400}, "density"),
                       ({"density": 1.5}, "density must be in [0, 1], not 1.5"),
                       ({"density": 0}, "density needs a fraction above 0"),
                       ({"target_bytes": 0}, "target_bytes needs a size above 0"),
                       ({"layer_bits": {"conv1": "8"}}, "layer_bits"),
                       ({"calib_split": "1/2"}, "calib_split needs calib"),  # the library's words
                       ({"holdout_split": "1/2"}, "holdout_split needs calib"),
                       ({"calib_split": "1/2", "holdout_split": "1/2"}, "give one"),
                       ({"codes": "best"}, "codes"), ({"calib_validation": 0.9}, "calib_validation"),
                       ({"half_widths": True, "bits": 5}, "half_widths needs target_bytes"),
                       ({"codebook_refit": "no"}, "codebook_refit"),
                       # refused where they would be ignored (check_option_dependencies)
                       ({"widths": [3, 4]}, "widths needs target_bytes"),
                       ({"dropout": 0.1}, "dropout needs train images"),
                       ({"mirror": False}, "mirror needs train images")):
        with pytest.raises(sc.Error) as e:
            sc.compress(fashion_sqz, out, **bad)
        assert e.value.code == "invalid_argument" and words in e.value.message
        assert "`" not in e.value.message and "--" not in e.value.message
    with pytest.raises(sc.Error, match="already exists"):
        sc.quantize(fashion_sqz, fashion_sqz, bits=4)
    with pytest.raises(sc.Error, match="seed draws the random or k-means"):  # not ignored
        sc.quantize(fashion_sqz, out, bits=4, seed=5)
    with pytest.raises(sc.Error, match="schedule spaces the pruning steps"):
        sc.prune(fashion_sqz, out, density=0.5, schedule="linear")
    with pytest.raises(sc.Error, match="at most 33554432 pixels"):  # the decoder's limit
        sc.open(fashion_sqz).classify(np.zeros((16384, 16384), np.uint8))
    with pytest.raises(sc.Error, match="run wants inputs of shape"):
        sc.open(fashion_sqz).run(np.zeros((1, 3, 28, 28), np.float32))
    nan = np.zeros((2, 1, 28, 28), np.float32)
    nan[1, 0, 1, 2] = np.nan  # ReLU would drop it: scores that look like an answer
    with pytest.raises(sc.Error, match="input value 30 of image 1 is NaN") as e:
        sc.open(fashion_sqz).run(nan)
    assert e.value.code == "invalid_argument"
    for ignored, words in (({"prototxt": "x.prototxt"}, "prototxt describes a Caffe reference"),
                           ({"labels": "l.txt"}, "labels needs images"),
                           ({"limit": 3}, "limit needs images"),
                           ({"preprocess": "torchvision"}, "the preprocessing needs images")):
        with pytest.raises(sc.Error, match=words) as e:  # refused, not ignored
            sc.report([fashion_sqz], **ignored)
        assert e.value.code == "invalid_argument"
    assert not out.exists()


def _no_output(folder, name):
    return [p.name for p in folder.iterdir() if name in p.name] == []


def test_a_cancelled_compress_leaves_no_file(fashion_sqz, fashion, tmp_path):
    out = tmp_path / "cancelled.sqz"

    def stop(event, label, done, total):
        if event == "progress":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sc.compress(fashion_sqz, out, calib=str(fashion["train"]), progress=stop)
    assert _no_output(tmp_path, "cancelled")


def test_ctrl_c_stops_compress_and_leaves_no_file(fashion_sqz, fashion, tmp_path):
    out = tmp_path / "interrupted.sqz"
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            sc.compress(fashion_sqz, out, calib=str(fashion["train"]), calib_steps=100000)
    finally:
        timer.cancel()
    assert _no_output(tmp_path, "interrupted")


def test_codebooks_and_preprocessor(fashion_sqz, tmp_path):
    sc.quantize(fashion_sqz, tmp_path / "q.sqz", bits=3)
    books = sc.codebooks(tmp_path / "q.sqz")
    book, codes = books["conv1"]
    assert len(book) <= 8 and np.all(np.diff(book) > 0) and codes.max() < len(book)
    pre = sc.Preprocessor(sc.open(fashion_sqz).preprocess, [1, 28, 28])
    assert pre.description == sc.open(fashion_sqz).preprocess
    with pytest.raises(sc.Error):
        sc.Preprocessor("resize=square:9 crop=1x1", [1, 28, 28])


def test_report_is_the_cli_report(fashion_sqz, fashion, tmp_path):
    q = tmp_path / "q3.sqz"
    sc.quantize(fashion_sqz, q, bits=3)
    r = sc.report([fashion_sqz, q], images=str(fashion["test"]), reference=str(fashion_sqz),
                  html=tmp_path / "report.html")
    cli = json.loads(run_cli("report", fashion_sqz, q, "--images", fashion["test"], "--reference",
                             fashion_sqz, "--json", "-q").stdout)
    assert "markdown" in r and (tmp_path / "report.html").stat().st_size > 1000
    del r["markdown"]
    assert r == cli
    with pytest.raises(sc.Error, match="reference needs images"):
        sc.report([q], reference=str(fashion_sqz))


def test_open_with_tune_times_once_then_reads_the_cache(fashion_sqz, tmp_path):
    cache = tmp_path / "tune.txt"
    x = np.random.default_rng(5).normal(0, 1, (3, 1, 28, 28)).astype(np.float32)
    rule = sc.open(fashion_sqz, threads=2)
    assert rule.plan["tuned"] is False and rule.plan["timed"] == 0
    first = sc.open(fashion_sqz, threads=2, tune=True, tune_cache=cache)
    plan = first.plan
    assert plan["tuned"] is True and plan["timed"] >= 1 and plan["note"] == ""
    assert plan["cache_path"] == str(cache) and cache.exists()
    tuned = first.run(x)
    # The tuned kernels may sum in another order: within rounding of the rule's outputs.
    want = rule.run(x)
    assert np.max(np.abs(tuned - want)) <= 1e-5 * max(1e-6, np.max(np.abs(want)))
    again = sc.open(fashion_sqz, threads=2, tune=True, tune_cache=cache)
    assert again.plan["timed"] == 0 and again.plan["cached"] == plan["timed"] + plan["cached"]
    assert np.array_equal(again.run(x), tuned)  # the same choices, the same bits
    # The CLI reads the same cache to the same choices, hence the same bits.
    x.tofile(tmp_path / "in.f32")
    run_cli("run", fashion_sqz, "--input-tensor", tmp_path / "in.f32", "--output-tensor",
            tmp_path / "out.f32", "--threads", "2", "--tune", "--tune-cache", cache)
    assert np.array_equal(np.fromfile(tmp_path / "out.f32", np.float32).reshape(tuned.shape), tuned)
    with pytest.raises(sc.Error) as e:
        sc.open(fashion_sqz, tune_cache=cache)
    assert e.value.code == "invalid_argument" and "tune" in str(e.value)
    # A path that cannot hold the cache is refused up front, naming it; nothing is written.
    (tmp_path / "notes.txt").write_text("my notes\n")
    for path, words in ((tmp_path, "is a directory"), (tmp_path / "notes.txt", "not a tuning cache")):
        with pytest.raises(sc.Error) as e:
            sc.open(fashion_sqz, tune=True, tune_cache=path)
        assert e.value.code == "invalid_argument" and str(path) in str(e.value) and words in str(e.value)
    assert (tmp_path / "notes.txt").read_text() == "my notes\n"


def test_every_entry_that_runs_kernels_refuses_a_misspelt_sqz_isa(fashion_sqz, tmp_path):
    # The machine is read once per process: a fresh interpreter with SQZ_ISA misspelt. open and
    # each stage refuse before they read or write anything, and machine() rather than name an
    # ISA not asked for; codebooks runs no kernel.
    import subprocess
    import sys
    model, out = str(fashion_sqz), str(tmp_path / "out.sqz")
    calls = {"open": f"sc.open({model!r})",
             "compress": f"sc.compress({model!r}, {out!r}, target_bytes=9000)",
             "prune": f"sc.prune({model!r}, {out!r}, density=0.5)",
             "quantize": f"sc.quantize({model!r}, {out!r}, bits=4)",
             "report": f"sc.report([{model!r}], html={str(tmp_path / 'r.html')!r})",
             "machine": "sc.machine()"}
    code = "import squeeze_compress as sc\n"
    for name, call in calls.items():
        code += f"try:\n    {call}\n    print({name!r}, 'ran')\nexcept sc.Error as e:\n    print({name!r}, e.code, e)\n"
    code += "print('codebooks', len(sc.codebooks(%r)))\n" % model
    env = dict(os.environ, SQZ_ISA="avx-2")
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    lines = dict(line.split(" ", 1) for line in run.stdout.splitlines())
    for name in calls:
        assert lines[name].startswith("invalid_argument") and "SQZ_ISA='avx-2' is not generic" in lines[name], lines
    assert lines["codebooks"].isdigit()  # ran (an encoded float32 model has no codebook)
    assert list(tmp_path.iterdir()) == []


def test_machine_is_what_bench_json_records(fashion_sqz):
    """sc.machine() and the CLI's `bench --json` describe the CPU alike (one source, two
    processes), so a timing taken from Python can name its CPU as the CLI's does."""
    m = sc.machine()
    r = run_cli("bench", fashion_sqz, "--runs", "1", "--json")
    assert m == json.loads(r.stdout)["machine"]
    assert m["kernels_isa"] in ("generic", "avx2", "avx512")
    assert 1 <= m["cores"] <= m["logical_processors"]
    assert 1 <= m["l1d_shared_by"] and 1 <= m["l2_shared_by"]
    assert isinstance(m["cpu"], str) and m["cpu"]
