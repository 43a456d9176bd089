"""Writing a COCO document fast: polygon coordinates formatted with numpy.

json.dumps formats every float through repr, about a third of a microsecond
each; a polygon export of CamVid writes some 90 polygons of 200 numbers per
image, and dumping them cost more than tracing them. The exporter's polygon
vertices are all multiples of 0.25 (see coco_polygons), so their shortest
decimal forms are an integer part and one of "", ".25", ".5", ".75", which
numpy can lay out for a whole image at once; below 8192 (any coordinate in
an image up to 8191 pixels wide) each number's text is one row of a table
made on first use. Numbers of any other kind make `quarter_texts` return
None and the caller falls back to json.

The texts only need to parse back to the same floats: the exporter's
self-check compares what pycocotools loads with the document itself.
"""

from __future__ import annotations

import json
import re

import numpy as np

_SUFFIX = np.array([[0, 0, 0], [46, 50, 53], [46, 53, 0], [46, 55, 53]], np.uint8)  # "", ".25", ".5", ".75"
_SUFFIX_LEN = np.array([0, 3, 2, 3])
_PLACEHOLDER = re.compile(r'"segmentation":"\\ue000(\d+)"')


def _layout(qi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Text rows of quarter counts qi (value qi / 4 and a comma): (characters, which are used), N x width."""
    whole, frac = np.divmod(qi, 4)
    ndig = np.ones(len(whole), np.int64)
    for k in range(1, 13):
        above = whole >= 10**k
        if not above.any():
            break
        ndig += above
    width = int(ndig.max())
    chars = np.empty((len(whole), width + 4), np.uint8)
    power = width - 1 - np.arange(width)  # digit k (right-aligned) is the 10**power[k] digit
    chars[:, :width] = (whole[:, None] // (10 ** power)) % 10 + 48
    chars[:, width:width + 3] = _SUFFIX[frac]
    chars[:, width + 3] = 44  # ","
    used = np.empty(chars.shape, bool)
    used[:, :width] = power < ndig[:, None]
    used[:, width:width + 3] = np.arange(3) < _SUFFIX_LEN[frac][:, None]
    used[:, width + 3] = True
    return chars, used


_TABLE_SIZE = 1 << 15  # quarter counts with a table row: coordinates below 8192
_table: tuple[np.ndarray, np.ndarray] | None = None


def _quarter_table() -> tuple[np.ndarray, np.ndarray]:
    """Every table value's text row, left-aligned (characters, number used), made on first use (256 kB)."""
    global _table
    if _table is None:
        chars, used = _layout(np.arange(_TABLE_SIZE))
        lengths = used.sum(axis=1)
        rows = np.zeros((_TABLE_SIZE, int(lengths.max())), np.uint8)
        column = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        rows[np.repeat(np.arange(_TABLE_SIZE), lengths), column] = np.compress(used.ravel(), chars.ravel())
        _table = rows, lengths
    return _table


def quarter_texts(values: np.ndarray, splits: list[int]) -> list[str] | None:
    """JSON lists ("[a,b,...]") of values[splits[i]:splits[i+1]], all multiples of 0.25 in [0, 2**40);
    None when any value is not such a number."""
    q = np.asarray(values, np.float64) * 4
    qi = q.astype(np.int64)
    if qi.size == 0 or not np.array_equal(qi, q) or qi.min() < 0 or qi.max() >= 1 << 42:
        return None
    if qi.max() < _TABLE_SIZE:  # image coordinates: one table look-up per number
        rows, row_lengths = _quarter_table()
        lengths = row_lengths[qi]
        chars, used = rows[qi], np.arange(rows.shape[1]) < lengths[:, None]
    else:
        chars, used = _layout(qi)
        lengths = used.sum(axis=1)
    text = np.compress(used.ravel(), chars.ravel()).tobytes().decode("ascii")
    ends = np.cumsum(lengths).tolist()
    offsets = [0] + [ends[i - 1] for i in splits[1:]]
    return ["[" + text[a:b - 1] + "]" for a, b in zip(offsets[:-1], offsets[1:])]


def dumps_with_segmentations(doc: dict, texts: list[str | None]) -> str:
    """json.dumps(doc) (compact), each annotation's segmentation written as texts[i] where that is not None
    (texts run parallel to doc["annotations"])."""
    if not any(t is not None for t in texts):
        return json.dumps(doc, separators=(",", ":"))
    shown = [a if t is None else {**a, "segmentation": f"\ue000{i}"}
             for i, (a, t) in enumerate(zip(doc["annotations"], texts))]
    text = json.dumps({**doc, "annotations": shown}, separators=(",", ":"))
    return _PLACEHOLDER.sub(lambda m: '"segmentation":' + texts[int(m.group(1))], text)
