"""fastpng: the exporters' fast readers give imageio's results and errors, file for file."""

import struct
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image

from segstudio.core.errors import ImageLoadError, ImageSizeMismatch
from segstudio.core.formats import fastpng
from segstudio.core.formats.fastpng import image_size_fast, read_label_fast
from segstudio.core.imageio import image_size, read_label_png, write_label_png

from .formats_data import LS3


def _labels(h=23, w=37, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w), dtype=np.uint8)


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png(labels: np.ndarray, colour: int, extra: bytes = b"", interlace: int = 0) -> bytes:
    """A hand-made 8-bit PNG of `labels` (colour type 0 or 3) with 'Sub'-filtered rows."""
    h, w = labels.shape
    sub = np.diff(labels.astype(np.int16), axis=1, prepend=0).astype(np.uint8)
    raw = b"".join(b"\x01" + row.tobytes() for row in sub)
    head = _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, colour, 0, 0, interlace))
    palette = _chunk(b"PLTE", bytes(range(256)) * 3) if colour == 3 else b""
    data = zlib.compress(raw)
    idat = _chunk(b"IDAT", data[:7]) + _chunk(b"IDAT", data[7:])  # split over two chunks
    return b"\x89PNG\r\n\x1a\n" + head + extra + palette + idat + _chunk(b"IEND", b"")


@pytest.mark.parametrize("make", ["segstudio", "pil-grey", "cv2-grey", "palette", "grey", "ancillary"])
def test_label_values_equal_imageio(tmp_path, monkeypatch, make):
    labels = _labels()
    p = tmp_path / "m.png"
    if make == "segstudio":
        labels = labels % 3
        write_label_png(p, labels, LS3)  # palette, as the studio writes them
    elif make == "pil-grey":
        Image.fromarray(labels, "L").save(p)
    elif make == "cv2-grey":
        cv2.imwrite(str(p), labels)
    elif make == "palette":
        p.write_bytes(_png(labels, 3))
    elif make == "grey":
        p.write_bytes(_png(labels, 0))
    else:  # gamma and significant-bits chunks OpenCV must not apply
        p.write_bytes(_png(labels, 3, _chunk(b"gAMA", struct.pack(">I", 100000)) + _chunk(b"sBIT", b"\x04")))
    monkeypatch.setattr(fastpng, "read_label_png", None)  # the fast path decodes these itself
    got = read_label_fast(p, expected_size=(37, 23))
    assert got.dtype == np.uint8 and got.shape == (23, 37)
    np.testing.assert_array_equal(got, read_label_png(p))
    np.testing.assert_array_equal(got, labels)


def test_other_depths_and_modes_go_to_imageio(tmp_path):
    labels = _labels() % 4
    small = Image.fromarray(labels, "P")
    small.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255])
    small.save(tmp_path / "p2.png", bits=2)  # a 2-bit palette: OpenCV would scale it
    assert Image.open(tmp_path / "p2.png").mode == "P"
    np.testing.assert_array_equal(read_label_fast(tmp_path / "p2.png"), labels)
    Image.fromarray(labels.astype(np.uint16) * 50).save(tmp_path / "i16.png")  # 16-bit grey
    np.testing.assert_array_equal(read_label_fast(tmp_path / "i16.png"), labels * 50)
    Image.fromarray(np.stack([labels] * 3, axis=2)).save(tmp_path / "rgb.png")
    with pytest.raises(ImageLoadError, match="rgb.png: a label PNG must be an index image"):
        read_label_fast(tmp_path / "rgb.png")


def _same_error(path, error=ImageLoadError, **kw):
    with pytest.raises(error) as slow:
        read_label_png(path, **kw)
    with pytest.raises(error) as fast:
        read_label_fast(path, **kw)
    assert type(fast.value) is type(slow.value) and str(fast.value) == str(slow.value)
    return str(fast.value)


def test_damaged_files_give_imageios_errors(tmp_path):
    good = _png(_labels(), 3)
    (tmp_path / "cut.png").write_bytes(good[:-30])  # truncated inside the IDAT data
    assert "cut.png" in _same_error(tmp_path / "cut.png")
    bad_crc = bytearray(good)
    bad_crc[-20] ^= 0xFF  # a byte of the last IDAT chunk
    (tmp_path / "crc.png").write_bytes(bytes(bad_crc))
    assert "crc.png" in _same_error(tmp_path / "crc.png")
    (tmp_path / "text.png").write_text("not a png")
    assert "not an image file" in _same_error(tmp_path / "text.png")
    assert "no such file" in _same_error(tmp_path / "gone.png")
    write_label_png(tmp_path / "m.png", np.zeros((23, 37), np.uint8), LS3)
    msg = _same_error(tmp_path / "m.png", ImageSizeMismatch, expected_size=(36, 23), image_path=tmp_path / "i.png")
    assert "37x23" in msg and "36x23" in msg


def test_image_size_equals_imageio(tmp_path, monkeypatch):
    rgb = np.zeros((21, 34, 3), np.uint8)
    Image.fromarray(rgb).save(tmp_path / "a.png")
    Image.fromarray(rgb).save(tmp_path / "b.jpg")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated: the EXIF frame is 21 wide
    Image.fromarray(rgb).save(tmp_path / "rot.png", exif=exif.tobytes())
    with monkeypatch.context() as m:
        m.setattr(fastpng, "image_size", None)  # a plain PNG's size comes from its header
        assert image_size_fast(tmp_path / "a.png") == (34, 21)
    for name in ("a.png", "b.jpg", "rot.png"):
        assert image_size_fast(tmp_path / name) == image_size(tmp_path / name)
    assert image_size_fast(tmp_path / "a.png") == (34, 21)
    assert image_size_fast(tmp_path / "rot.png") == (21, 34)
    (tmp_path / "c.png").write_bytes((tmp_path / "a.png").read_bytes()[:60])  # cut short: no IEND
    assert image_size_fast(tmp_path / "c.png") == image_size(tmp_path / "c.png") == (34, 21)
    (tmp_path / "d.png").write_bytes((tmp_path / "a.png").read_bytes()[:33])  # nothing after the header
    with pytest.raises(ImageLoadError, match="d.png: not an image file"):
        image_size_fast(tmp_path / "d.png")
    with pytest.raises(ImageLoadError, match="gone.png: no such file"):
        image_size_fast(tmp_path / "gone.png")
