"""squeeze-compress from Python: open a model and classify images with the preprocessing it
records, run preprocessed batches, and compress, prune or quantize SqueezeNets.

    import squeeze_compress as sc
    model = sc.open("model.sqz")
    scores = model.classify("cat.jpg")          # a path, a PIL image or an H x W x 3 array
    logits = model.run(batch)                   # float32 (N, C, H, W), already preprocessed
    sc.compress("squeezenet.onnx", "small.sqz", target_bytes=400_000, calib="images/")

Long calls release the GIL, report progress to a callable (see TqdmProgress) and stop on
Ctrl-C (KeyboardInterrupt) without leaving an output file. Library errors raise
squeeze_compress.Error with .message and .code.
"""
from __future__ import annotations

import os
from typing import Any, Callable, Optional, Sequence, Union

import numpy as np

from . import _core

__version__ = _core.__version__
Preprocessor = _core.Preprocessor


class Error(Exception):
    """An error from the library: .message (one line naming the file or option) and .code
    (io, parse, corrupt, unsupported, invalid_argument, shape_mismatch, not_found, limit,
    interrupted, conflict)."""

    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.message = message
        self.code = code

    def __str__(self) -> str:
        return self.message


_core._set_error_class(Error)

Progress = Callable[[str, str, int, int], None]


def _pixels(image: Any) -> np.ndarray:
    """uint8 pixels as they are; integer pixels in 0..255 converted exactly; anything else (a
    float image in 0..1 would otherwise be cast to 0s and 1s and classified wrongly) an Error."""
    pixels = np.asarray(image)
    if pixels.dtype == np.uint8:
        return pixels
    if np.issubdtype(pixels.dtype, np.integer) and (
            pixels.size == 0 or (pixels.min() >= 0 and pixels.max() <= 255)):
        return pixels.astype(np.uint8)
    raise Error(f"classify wants uint8 pixels (0..255), not {pixels.dtype} values"
                + (" (scale a float image to 0..255 and convert it with astype(np.uint8))"
                   if np.issubdtype(pixels.dtype, np.floating) else ""), "invalid_argument")


PathLike = Union[str, "os.PathLike[str]"]


class Model:
    """A model file (.sqz, .onnx, .caffemodel with prototxt, .net) opened for inference."""

    def __init__(self, core: _core.Model):
        self._core = core

    @property
    def path(self) -> str:
        return self._core.path

    @property
    def input_shape(self) -> tuple:
        """(C, H, W) of one input."""
        return self._core.input_shape

    @property
    def num_classes(self) -> int:
        return self._core.num_classes

    @property
    def preprocess(self) -> Optional[str]:
        """What classify() does to an image, as the .sqz record writes it (None: the input is
        not an image)."""
        return self._core.preprocess

    @property
    def preprocess_source(self) -> str:
        """given (open's preprocess=), recorded (by the file), caffe model, or assumed."""
        return self._core.preprocess_source

    @property
    def metadata(self) -> dict:
        """A .sqz file's metadata (producer, source, pipeline, preprocess, ...)."""
        return self._core.metadata

    @property
    def plan(self) -> dict:
        """How the net of open()'s thread count was planned: seconds, tuned, timed and cached
        (convolutions timed now and read from the tuning cache), cache_path, note."""
        return self._core.plan

    def run(self, inputs: np.ndarray, threads: int = 0) -> np.ndarray:
        """Runs float32 inputs of shape (N, C, H, W) or (C, H, W), already preprocessed, and
        returns the outputs (N, classes) or (classes,). threads: 0 keeps open()'s. Raises
        Error for a NaN or infinite input (code "invalid_argument") and for an output that is
        not finite, a sum past float32's range (code "limit"), naming the value and image."""
        return self._core.run(inputs, threads)

    def classify(self, image: Any, threads: int = 0) -> np.ndarray:
        """The class scores for one image: a file path, a PIL image, or uint8 pixels
        (H x W x 3 RGB, or H x W grey), preprocessed as the model records."""
        if isinstance(image, (str, os.PathLike)):
            return self._core._classify_file(os.fspath(image), threads)
        if hasattr(image, "convert") and hasattr(image, "mode"):  # PIL.Image.Image
            image = np.asarray(image.convert("RGB"))
        return self._core._classify_pixels(np.ascontiguousarray(_pixels(image)), threads)

    def top_k(self, scores: np.ndarray, k: int = 5) -> list:
        """The k best classes (at most num_classes) of one image's scores, a vector of
        num_classes values, best first (ties: lower index first). An Error for another shape
        (a batch's (N, classes) would otherwise be ranked as one long vector), a k below 1 or a
        NaN score."""
        scores = np.asarray(scores, dtype=np.float32)
        if scores.shape != (self.num_classes,):
            raise Error(f"top_k wants one image's {self.num_classes} scores, not an array of "
                        f"shape {scores.shape} (a batch's row i: scores[i])", "invalid_argument")
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise Error(f"top_k wants a whole k of at least 1, not {k!r}", "invalid_argument")
        if np.isnan(scores).any():
            raise Error(f"top_k: score {int(np.flatnonzero(np.isnan(scores))[0])} is NaN",
                        "invalid_argument")
        order = np.lexsort((np.arange(scores.size), -scores))
        return [int(i) for i in order[:k]]

    def __repr__(self) -> str:
        return f"squeeze_compress.Model({self.path!r}, input {self.input_shape}, {self.num_classes} classes)"


def open(path: PathLike, *, prototxt: Optional[PathLike] = None, threads: int = 1,
         input_shape: Optional[Sequence[int]] = None, preprocess: Optional[str] = None,
         force: bool = False, tune: bool = False,
         tune_cache: Optional[PathLike] = None) -> Model:
    """Opens a model for inference. preprocess ("caffe" or "torchvision") replaces what the
    file records (an Error where they disagree, unless force). tune times each convolution's
    kernel and thread split on this CPU (the CLI's --tune) and keeps the choices in tune_cache
    (default: the user's cache directory), read back on the next open; Model.plan says how
    the net was planned."""
    return Model(_core.Model(os.fspath(path), os.fspath(prototxt) if prototxt else "", threads,
                             list(input_shape or []), preprocess or "", force, tune,
                             os.fspath(tune_cache) if tune_cache is not None else ""))


def compress(model: PathLike, output: PathLike, *, force: bool = False,
             progress: Optional[Progress] = None, **options: Any) -> dict:
    """The whole pipeline (squeeze-compress compress): prune, share weights, calibrate, encode
    and measure. options are the command's long options with '_' for '-' (bits=6,
    target_bytes=400_000, calib="dir", density=0.3, layer_bits={"conv1": 8}, ...); the same
    options write the same bytes as the command line. Returns the stage table as a dict."""
    return _core._compress(os.fspath(model), os.fspath(output), force, progress, options)


def prune(model: PathLike, output: PathLike, *, force: bool = False,
          progress: Optional[Progress] = None, **options: Any) -> dict:
    """Magnitude pruning (squeeze-compress prune): one of density, global_density or quality;
    steps, schedule, granularity, layer_density, retrain_cmd (a command run between steps with
    {in} {masks} {out}, e.g. the torch_retrain module). Writes .sqz, .onnx or .caffemodel."""
    return _core._prune(os.fspath(model), os.fspath(output), force, progress, options)


def quantize(model: PathLike, output: PathLike, *, force: bool = False,
             progress: Optional[Progress] = None, **options: Any) -> dict:
    """k-means weight sharing into a .sqz (squeeze-compress quantize): bits, layer_bits, init,
    exact, method, entropy, seed."""
    return _core._quantize(os.fspath(model), os.fspath(output), force, progress, options)


def report(models: Sequence[PathLike], *, html: Optional[PathLike] = None,
           chart: Optional[PathLike] = None, force: bool = False,
           progress: Optional[Progress] = None, **options: Any) -> dict:
    """The report over models (squeeze-compress report): the stage table, the per-layer ledger
    and, with images=, accuracy (top-1/top-5 with intervals, agreement and KL against
    reference=). Options: images, labels, label_file, reference, prototxt, limit, threads,
    preprocess, force_preprocess. Returns the JSON report as a dict, its Markdown under
    "markdown"; html= and chart= also write the page and the accuracy chart."""
    return _core._report([os.fspath(m) for m in models], os.fspath(html) if html else "",
                         os.fspath(chart) if chart else "", force, progress, options)


def codebooks(path: PathLike, *, prototxt: Optional[PathLike] = None) -> dict:
    """Each weight-shared layer of a model file: {name: (codebook float32, codes uint8)}, one
    code per stored (unpruned) weight in OIHW order."""
    return _core.codebooks(os.fspath(path), os.fspath(prototxt) if prototxt else "")


def machine() -> dict:
    """The CPU the runtime plans for, as `bench --json` records it (name it beside a timing):
    vendor, cpu, uarch, cpuid_family, cpuid_model, kernels_isa ('avx512', 'avx2' or 'generic')
    and kernels_isa_source ('cpu', or the SQZ_ISA that lowered it), gathers_slowed (1 where
    a microcode mitigation slows gathers), l1d/l2/l3 bytes and the logical processors sharing
    each, cores and logical_processors. Raises Error
    (invalid_argument) when SQZ_ISA names no ISA path, as every entry that runs kernels."""
    return _core.machine()


class TqdmProgress:
    """A progress callable drawing each task as a tqdm bar:
    sc.compress(..., progress=TqdmProgress())."""

    def __init__(self, **tqdm_options: Any):
        from tqdm import tqdm  # python3-tqdm

        self._tqdm = tqdm
        self._options = tqdm_options
        self._bar = None

    def __call__(self, event: str, label: str, done: int, total: int) -> None:
        if event == "stage":
            self._tqdm.write(f"[{done}/{total}] {label}")
        elif event == "task":
            self._bar = self._tqdm(total=total, desc=label, **self._options)
        elif event == "progress" and self._bar is not None:
            self._bar.update(done - self._bar.n)
        elif event == "done" and self._bar is not None:
            self._bar.close()
            self._bar = None
        elif event == "note":
            self._tqdm.write(label)


__all__ = ["Error", "Model", "Preprocessor", "TqdmProgress", "codebooks", "compress", "machine",
           "open", "prune", "quantize", "report"]
