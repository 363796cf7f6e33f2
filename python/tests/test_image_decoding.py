"""Image files as PIL reads them for torchvision's ImageFolder (Image.open(...).convert("RGB")):
our decoder gives the same pixels, bit for bit, including CMYK JPEGs (ImageNet has a few),
greyscale and palette images, transparent pixels (alpha dropped, not composited) and PNGs
whose gAMA chunk is not sRGB's (PIL ignores it)."""
import struct
import zlib

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
    ("LA", "PNG", {}),
    ("L", "PNG", {}),
])
def test_decoding_matches_pil(tmp_path, photo, mode, fmt, options):
    path = tmp_path / f"image.{fmt.lower()}"
    image = photo.convert(mode) if mode != "P" else photo.convert("P", palette=Image.ADAPTIVE)
    if "A" in mode:  # transparency that varies: compositing onto a background would show
        alpha = np.random.default_rng(5).integers(0, 256, image.size[::-1], dtype=np.uint8)
        image.putalpha(Image.fromarray(alpha))
    if mode == "P":
        options = {**options, "transparency": 7}
    image.save(path, fmt, **options)
    want = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32)
    np.testing.assert_array_equal(decoded(path), want)


@pytest.mark.parametrize("gamma", [100000, 55556])  # gAMA 1.0 and 1/1.8 (sRGB is 45455)
def test_png_gamma_is_ignored_as_pil_ignores_it(tmp_path, photo, gamma):
    plain = tmp_path / "plain.png"
    photo.save(plain)
    data = plain.read_bytes()
    end_of_ihdr = 8 + 8 + 13 + 4
    body = b"gAMA" + struct.pack(">I", gamma)
    chunk = struct.pack(">I", 4) + body + struct.pack(">I", zlib.crc32(body))
    path = tmp_path / "gamma.png"
    path.write_bytes(data[:end_of_ihdr] + chunk + data[end_of_ihdr:])
    assert Image.open(path).info["gamma"] == pytest.approx(gamma / 100000)
    np.testing.assert_array_equal(decoded(path), np.asarray(photo, dtype=np.float32))


def png_bytes(samples, color_type):
    """A 16-bit PNG of `samples` (H x W x channels, uint16), no colour chunks."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    h, w = samples.shape[:2]
    rows = b"".join(b"\x00" + samples[y].astype(">u2").tobytes() for y in range(h))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, color_type, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


@pytest.mark.parametrize("channels,color_type", [(3, 2), (1, 0)])
def test_16_bit_png_scaled_as_encoded_values(tmp_path, channels, color_type):
    """16-bit samples become value / 257, rounded, as 8-bit ones would be stored (libpng's
    reader alone takes a 16-bit file without colour chunks for linear light: 32768 -> 186).
    PIL takes the high byte of RGB (within one level of this) and clips greyscale to 255."""
    samples = np.random.default_rng(9).integers(0, 65536, (12, 17, channels)).astype(np.uint16)
    samples[0, 0] = 32768
    path = tmp_path / "deep.png"
    path.write_bytes(png_bytes(samples, color_type))
    want = np.round(samples / 257.0).astype(np.float32)
    got = decoded(path)
    np.testing.assert_array_equal(got, np.broadcast_to(want, got.shape))
    assert got[0, 0, 0] == 128
    if channels == 3:
        assert np.abs(got - np.asarray(Image.open(path).convert("RGB"), np.float32)).max() <= 1


def test_cmyk_jpeg_classifies_as_its_rgb_twin(fashion_sqz, tmp_path, photo):
    """A CMYK JPEG runs through a model (its preprocessing and all) like the RGB image PIL
    makes of it."""
    cmyk, rgb = tmp_path / "cmyk.jpg", tmp_path / "rgb.png"
    photo.convert("CMYK").save(cmyk, quality=95)
    Image.open(cmyk).convert("RGB").save(rgb)
    model = sc.open(fashion_sqz)
    np.testing.assert_array_equal(model.classify(cmyk), model.classify(rgb))
