"""Checking and decoding one COCO `segmentation` before pycocotools sees it.

pycocotools trusts its input: a polygon with a NaN or 1e308 coordinate makes
it allocate without bound or crash the process (segmentation fault), and an
RLE whose counts run past the image is decoded without a word. Everything is
checked here first, in Python:

- polygons: flat lists of an even number of finite numbers, each within one
  image size of the image (anything farther is corruption, not annotation);
  a polygon of fewer than 3 points is not drawn and counted as degenerate;
- RLE (compressed string or uncompressed list): `size` must be the image's
  [height, width]; counts must be well formed, non-negative, and sum to
  exactly height x width.
"""

from __future__ import annotations

import math
from numbers import Real

import numpy as np
from pycocotools import mask as mask_utils


class BadSegmentation(ValueError):
    """A segmentation that cannot be decoded safely; the message says why."""


def _check_polygon(poly, h: int, w: int) -> bool:
    """True for a drawable polygon, False for a degenerate one (< 3 points); raises if malformed."""
    if not isinstance(poly, list):
        raise BadSegmentation(f"a polygon is a {type(poly).__name__}, not a list of coordinates")
    if not all(isinstance(v, Real) and not isinstance(v, bool) for v in poly):
        raise BadSegmentation("a polygon holds something other than numbers")
    if len(poly) % 2:
        raise BadSegmentation(f"a polygon has an odd number of coordinates ({len(poly)})")
    margin = max(h, w)
    for v in poly:
        if not math.isfinite(v):
            raise BadSegmentation(f"polygon coordinate {v} is not finite")
        if v < -margin or v > 2 * margin:
            raise BadSegmentation(f"polygon coordinate {v:g} lies far outside the {w}x{h} image")
    return len(poly) >= 6


def counts_from_string(s: str) -> list[int]:
    """The run lengths of a compressed COCO RLE string (pycocotools' rleFrString, checked)."""
    counts: list[int] = []
    p, n = 0, len(s)
    while p < n:
        x, k, more = 0, 0, True
        while more:
            if p >= n:
                raise BadSegmentation("RLE counts string ends in the middle of a number")
            c = ord(s[p]) - 48
            if not 0 <= c < 64:
                raise BadSegmentation(f"RLE counts string has the invalid character {s[p]!r}")
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p, k = p + 1, k + 1
            if not more and c & 0x10:
                x |= -1 << (5 * k)
            if k > 13:
                raise BadSegmentation("RLE counts string holds a number too large for any image")
        if len(counts) > 2:
            x += counts[-2]
        counts.append(x)
    return counts


def _check_rle(segm: dict, h: int, w: int) -> dict:
    size = segm.get("size")
    if not (isinstance(size, list) and len(size) == 2 and all(isinstance(v, int) for v in size)):
        raise BadSegmentation(f"RLE size {size!r} is not [height, width]")
    if size != [h, w]:
        raise BadSegmentation(f"RLE size {size[0]}x{size[1]} (h x w) differs from the image's {h}x{w}")
    raw = segm["counts"]
    if isinstance(raw, list):
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in raw):
            raise BadSegmentation("uncompressed RLE counts hold something other than integers")
        counts = raw
    elif isinstance(raw, (str, bytes)):
        text = raw.decode("ascii", "replace") if isinstance(raw, bytes) else raw
        counts = counts_from_string(text)
    else:
        raise BadSegmentation(f"RLE counts are a {type(raw).__name__}, not a string or a list")
    if any(v < 0 for v in counts):
        raise BadSegmentation("RLE counts hold a negative run")
    total = sum(counts)
    if total != h * w:
        raise BadSegmentation(f"RLE counts cover {total:,} pixels but the {w}x{h} image has {h * w:,}"
                              + (" (they run past the image)" if total > h * w else ""))
    if isinstance(raw, list):
        return mask_utils.frPyObjects(segm, h, w)
    return {"size": size, "counts": raw.encode("ascii") if isinstance(raw, str) else raw}


def decode_segmentation_checked(segm, h: int, w: int) -> tuple[np.ndarray, int]:
    """(HxW bool mask, number of degenerate polygons not drawn); raises BadSegmentation."""
    if isinstance(segm, list):
        ok = [p for p in segm if _check_polygon(p, h, w)]
        degenerate = len(segm) - len(ok)
        if not ok:
            return np.zeros((h, w), bool), degenerate
        return mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects(ok, h, w))).astype(bool), degenerate
    if isinstance(segm, dict) and "counts" in segm:
        return mask_utils.decode(_check_rle(segm, h, w)).astype(bool), 0
    raise BadSegmentation("segmentation is neither a polygon list nor an RLE")


def decode_segmentation(segm, h: int, w: int) -> np.ndarray:
    """A COCO `segmentation` (polygons, RLE or uncompressed RLE) as an HxW bool mask, checked first."""
    return decode_segmentation_checked(segm, h, w)[0]
