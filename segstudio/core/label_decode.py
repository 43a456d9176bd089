"""Scoring one pair of plain 8-bit label PNGs with Pillow alone (no NumPy, no OpenCV).

`segstudio eval` spends most of its time starting up and decoding, so the
common case - both files 8-bit PNGs of mode P or L, a label set of at most
`FAST_MAX_CLASSES` classes - is counted here: each file is decoded by Pillow,
the ground truth mapped through a lookup table to `row * (n + 1)` and the
prediction to `min(value, n)`, the two added into one uint8 code per pixel and
histogrammed. Pillow releases the GIL while it decodes, maps and counts, so a
thread pool scales.

Rows of the code: 0..n-1 the classes; n the ignore index and 255 (void, not
scored); n+1 any other value (stray ground truth: not scored, but counted per
value, as `core.evaluate` promises). Column n: predictions outside the class
range (errors).

Anything else - other modes, 16-bit files, unreadable or damaged files, sizes
that differ, images over the pixel limit - returns None, and the caller takes
the careful path (`core.eval_arrays`), which scores what can be scored and
words the error exactly as the rest of segstudio does.
"""

from __future__ import annotations

import os
import struct
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageChops, PngImagePlugin

from .labels import LabelSet

FAST_MAX_CLASSES = 14  # (n + 2) * (n + 1) codes must fit in a byte
VOC_VOID = 255  # void in every VOC-style mask, whatever the label set's own ignore index
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Larger files go the careful way, which applies segstudio's own decompression-bomb limit.
_MAX_PIXELS = min(int(os.environ.get("SEGSTUDIO_MAX_PIXELS", Image.MAX_IMAGE_PIXELS or 89_478_485)),
                  Image.MAX_IMAGE_PIXELS or 89_478_485)


def label_pngs(folder: str | Path) -> dict[str, Path]:
    """`<stem>.png` files directly inside `folder` by stem, in name order (hidden files skipped).

    `core.imageio` re-exports it; it lives here so that eval can list files without importing NumPy.
    """
    return {p.stem: p for p in sorted(Path(folder).iterdir())
            if p.suffix.lower() == ".png" and p.is_file() and not p.name.startswith(".")}


def _png_size(head: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG's first 24 bytes (signature + IHDR), None if not a PNG."""
    if len(head) < 24 or not head.startswith(_PNG_SIGNATURE) or head[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", head[16:24])


def open_plain_label(path: Path) -> Image.Image | None:
    """The decoded image if `path` is a well-formed 8-bit PNG of mode P or L within the pixel limit, else None."""
    try:
        with open(path, "rb") as f:
            size = _png_size(f.read(24))
            if size is None or size[0] * size[1] > _MAX_PIXELS:
                return None
            f.seek(0)
            # The PNG plugin itself: Image.open would first import the BMP, GIF, JPEG and PPM ones.
            img = PngImagePlugin.PngImageFile(f)
            if img.mode not in ("P", "L"):
                return None
            img.load()  # the pixels are in memory before the file closes
            return img
    except Exception:  # any trouble: the careful reader reports it in segstudio's words
        return None


@lru_cache(maxsize=64)
def _luts(num_classes: int, ignore_index: int) -> tuple[list[int], list[int]]:
    n = num_classes
    gt = [v * (n + 1) if v < n else n * (n + 1) if v in (ignore_index, VOC_VOID) else (n + 1) * (n + 1)
          for v in range(256)]
    pred = [min(v, n) for v in range(256)]
    return gt, pred


def pair_counts(gt: Image.Image, pred: Image.Image, labelset: LabelSet) -> tuple[list[list[int]], dict[int, int]]:
    """(n x (n+1) confusion rows, {stray ground-truth value: pixels}) of one pair of equal-size images."""
    n = labelset.num_classes
    if n > FAST_MAX_CLASSES or gt.size != pred.size:
        raise ValueError("pair_counts needs equal sizes and at most FAST_MAX_CLASSES classes")
    gt_lut, pred_lut = _luts(n, labelset.ignore_index)
    hist = ImageChops.add(gt.point(gt_lut, "L"), pred.point(pred_lut, "L")).histogram()
    k = n + 1
    rows = [hist[r * k:(r + 1) * k] for r in range(n)]
    stray: dict[int, int] = {}
    if any(hist[(n + 1) * k:(n + 2) * k]):
        values = gt.histogram()
        stray = {v: values[v] for v in range(n, 256) if values[v] and v not in (labelset.ignore_index, VOC_VOID)}
    return rows, stray
