"""Saved confidence maps (`.confidence/`) that are not what they should be (issue 25 item 2): corrupt,
truncated, another size, huge, a folder. Each is ignored with a message naming the file, a new map
can be written over it, and the masks beside it are untouched."""

import io
import os
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from segstudio.core.assist.confidence_store import (confidence_path, has_confidence, load_confidence,
                                                    mean_confidence, read_confidence, save_confidence)


def _png(array, mode="L") -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array, mode=mode).save(buf, "PNG")
    return buf.getvalue()


def _claimed_png(w: int, h: int) -> bytes:
    """A grayscale PNG whose header claims w x h pixels (and whose pixel data is missing)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


GOOD = _png(np.tile(np.arange(30, dtype=np.uint8) * 8, (20, 1)))
CASES = {
    "corrupt": (lambda: b"\x89PNG\r\n\x1a\n" + os.urandom(200), "cannot read confidence"),
    "truncated": (lambda: GOOD[: len(GOOD) - 30], "cannot read confidence"),
    "header only": (lambda: GOOD[:40], "cannot read confidence"),
    "empty": (lambda: b"", "cannot read confidence"),
    "RGB": (lambda: _png(np.zeros((20, 30, 3), np.uint8), "RGB"), "not an 8-bit grayscale PNG"),
    "other size": (lambda: _png(np.zeros((21, 30), np.uint8)), "30x21, but the image is 30x20"),
    "huge": (lambda: _claimed_png(30000, 20000), "could be decompression bomb"),
}


@pytest.fixture
def masks(tmp_path):
    d = tmp_path / "masks"
    (d / ".confidence").mkdir(parents=True)
    (d / "a.png").write_bytes(b"the user's mask")
    return d


@pytest.mark.parametrize("name", list(CASES))
def test_a_bad_confidence_file_is_ignored_with_its_name_and_replaced(masks, caplog, name):
    make, says = CASES[name]
    path = confidence_path(masks, "a")
    path.write_bytes(make())
    conf, problem = read_confidence(masks, "a", size=(30, 20))
    assert conf is None and problem.startswith(str(path)) and says in problem
    assert load_confidence(masks, "a", size=(30, 20)) is None and str(path) in caplog.text
    assert not has_confidence(masks, "a") or name == "other size"  # (the image's size is not known there)
    if name != "other size":
        assert mean_confidence(masks, "a") is None
    save_confidence(masks, "a", np.full((20, 30), 0.5, np.float32))  # recomputed: written over it
    assert load_confidence(masks, "a", size=(30, 20)).shape == (20, 30)
    assert (masks / "a.png").read_bytes() == b"the user's mask"


def test_a_map_larger_than_any_image_is_not_decoded(masks):
    path = confidence_path(masks, "a")
    path.write_bytes(_claimed_png(12000, 9000))  # 108 Mpx: over the image limit, under Pillow's error limit
    conf, problem = read_confidence(masks, "a")
    assert conf is None and "larger than any image segstudio opens" in problem
    assert mean_confidence(masks, "a") is None


def test_a_folder_in_place_of_a_map(masks):
    path = confidence_path(masks, "a")
    path.mkdir()
    assert read_confidence(masks, "a", size=(30, 20)) == (None, f"{path}: not a file; ignored")
    assert not has_confidence(masks, "a") and mean_confidence(masks, "a") is None
    with pytest.raises(OSError):  # the callers report it ("Confidence not saved: ...")
        save_confidence(masks, "a", np.zeros((20, 30), np.float32))
    assert path.is_dir()


def test_a_good_map_reads_back(masks):
    confidence_path(masks, "a").write_bytes(GOOD)
    conf, problem = read_confidence(masks, "a", size=(30, 20))
    assert problem is None and conf[0, 1] == 8 and has_confidence(masks, "a")
    assert read_confidence(masks, "missing") == (None, None)
