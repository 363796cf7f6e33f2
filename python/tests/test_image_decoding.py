"""Image files as PIL reads them for torchvision's ImageFolder (Image.open(...).convert("RGB")):
our decoder gives the same pixels, bit for bit, including CMYK JPEGs (ImageNet has a few),
greyscale and palette images."""
import numpy as np
import pytest

import squeeze_compress as sc

Image = pytest.importorskip("PIL.Image", reason="python3-pil is not installed")


def decoded(path):
    """Our RGB pixels of `path` (no resizing, no normalization), as H x W x 3."""
    w, h = Image.open(path).size
    pre = sc.Preprocessor(f"resize=none:{w} crop={w}x{h} channels=rgb divisor=1 "
                          "mean=0,0,0 std=1,1,1", [3, h, w])
    return pre.load(str(path)).reshape(3, h, w).transpose(1, 2, 0)


@pytest.fixture
def photo():
    """A photograph-like RGB image: smooth gradients and noise, odd sizes."""
    rng = np.random.default_rng(11)
    y, x = np.mgrid[0:75, 0:101]
    base = np.stack([x * 2.5, y * 3.4, (x + y) * 1.4], axis=-1)
    return Image.fromarray(np.clip(base + rng.normal(0, 20, base.shape), 0, 255).astype(np.uint8))


@pytest.mark.parametrize("mode,fmt,options", [
    ("CMYK", "JPEG", {"quality": 90}),
    ("CMYK", "JPEG", {"quality": 40}),
    ("RGB", "JPEG", {"quality": 90, "progressive": True}),
    ("L", "JPEG", {}),
    ("P", "PNG", {}),
    ("RGBA", "PNG", {}),
    ("L", "PNG", {}),
])
def test_decoding_matches_pil(tmp_path, photo, mode, fmt, options):
    path = tmp_path / f"image.{fmt.lower()}"
    image = photo.convert(mode) if mode != "P" else photo.convert("P", palette=Image.ADAPTIVE)
    image.save(path, fmt, **options)
    want = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32)
    np.testing.assert_array_equal(decoded(path), want)


def test_cmyk_jpeg_classifies_as_its_rgb_twin(fashion_sqz, tmp_path, photo):
    """A CMYK JPEG runs through a model (its preprocessing and all) like the RGB image PIL
    makes of it."""
    cmyk, rgb = tmp_path / "cmyk.jpg", tmp_path / "rgb.png"
    photo.convert("CMYK").save(cmyk, quality=95)
    Image.open(cmyk).convert("RGB").save(rgb)
    model = sc.open(fashion_sqz)
    np.testing.assert_array_equal(model.classify(cmyk), model.classify(rgb))
