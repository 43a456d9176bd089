"""COCO's compressed RLE of a whole label map at once: counts from numpy, strings from pycocotools.

pycocotools encodes one binary mask per call, scanning every pixel while it
holds the GIL, so an exporter that calls it per class is bound to one core
and reads the map once per class. Here a label map is read once in
column-major order (COCO's) and split into runs of equal labels; the runs of
every class become that class's counts (zeros, ones, zeros, ..., the
pycocotools convention) in one set of array operations, with no Python loop
over classes or runs. pycocotools' own compressor turns the counts into
COCO's string form (frPyObjects on uncompressed RLE: a C loop over the
counts, not the pixels), so the strings are its exact strings. Area and
bounding box follow pycocotools' definitions (bbox [x, y, w, h] of the
covered pixels), computed from the runs.

The decoder (`decode_runs`) turns many compressed strings back into the
foreground runs they describe, again in one pass, for the polygon
exporter's raster check; `runs_digest` is the digest the self-check
compares: a label map's class runs (start, end, value), column-major, maximal.
"""

from __future__ import annotations

import hashlib

import cv2
import numpy as np
from pycocotools import mask as mask_utils


def label_runs(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(starts, ends, values) of the maximal runs of equal labels in column-major order."""
    flat = cv2.transpose(labels).ravel() if labels.dtype == np.uint8 else np.ascontiguousarray(labels.T).ravel()
    n = flat.size
    edge = np.empty(n + 1, bool)  # where a run starts or ends: 0, every change, n
    edge[0] = edge[n] = True
    np.not_equal(flat[1:], flat[:-1], out=edge[1:n])
    bounds = np.flatnonzero(edge)
    return bounds[:-1], bounds[1:], flat[bounds[:-1]]


def _positions(seg_starts: np.ndarray, total: int) -> np.ndarray:
    """Each element's index within its segment, for segments starting at `seg_starts` (sorted, first 0)."""
    lengths = np.diff(np.append(seg_starts, total))
    return np.arange(total) - np.repeat(seg_starts, lengths)


def _segmented_cumsum(x: np.ndarray, seg_starts: np.ndarray) -> np.ndarray:
    """Cumulative sums of x restarted at each of `seg_starts` (sorted, unique, first 0)."""
    cs = np.cumsum(x)
    base = (cs - x)[seg_starts]
    return cs - np.repeat(base, np.diff(np.append(seg_starts, len(x))))


def _class_counts(s: np.ndarray, e: np.ndarray, lo: np.ndarray, n: int) -> tuple[np.ndarray, list[int], list[int]]:
    """All classes' RLE counts concatenated, and where each class's counts start and end.

    s, e: runs sorted by class then start; lo: each class's first run; n: pixels.
    Class c's counts are the differences of 0, s0, e0, s1, e1, ..., n, the last
    dropped when it is 0 (the class reaches the end of the image).
    """
    nr = len(s)
    bounds = np.empty(2 * nr + len(lo), s.dtype)  # per class: s0, e0, s1, e1, ..., n
    at = 2 * np.arange(nr, dtype=s.dtype) + np.repeat(np.arange(len(lo), dtype=s.dtype), np.diff(np.append(lo, nr)))
    bounds[at], bounds[at + 1] = s, e
    ends = 2 * np.append(lo[1:], nr) + np.arange(len(lo))  # where each class's n goes
    bounds[ends] = n
    counts = np.diff(bounds, prepend=0)
    firsts = np.concatenate(([0], ends[:-1] + 1))
    counts[firsts] = bounds[firsts]  # each class starts from 0, not from the previous class's n
    return counts, firsts.tolist(), (ends + (counts[ends] != 0)).tolist()


def class_boxes(s: np.ndarray, e: np.ndarray, lo: np.ndarray, h: int) -> tuple[list[int], ...]:
    """(x0s, y0s, x1s, y1s): inclusive bounds of each group (starting at lo) of column-major runs [s, e)."""
    x0, y0 = np.divmod(s, h)
    x1, y1 = np.divmod(e - 1, h)
    crosses = x1 > x0  # a run over a column boundary covers the top and the bottom row
    y0[crosses], y1[crosses] = 0, h - 1
    return (np.minimum.reduceat(x0, lo).tolist(), np.minimum.reduceat(y0, lo).tolist(),
            np.maximum.reduceat(x1, lo).tolist(), np.maximum.reduceat(y1, lo).tolist())


def encode_runs(starts: np.ndarray, ends: np.ndarray, values: np.ndarray, h: int, w: int) -> tuple[list[int], list[dict]]:
    """(classes, one COCO body {segmentation, area, bbox} per class) from runs of an H x W map.

    The runs (column-major [start, end) with a value each) need not be sorted;
    runs of one value must not overlap or touch (maximal runs, as label_runs gives).
    """
    if len(starts) == 0:
        return [], []
    dtype = np.int32 if h * w < 2**31 else np.int64
    order = np.argsort(values, kind="stable")
    s, e, v = starts[order].astype(dtype), ends[order].astype(dtype), values[order]
    lo = np.flatnonzero(np.concatenate(([True], v[1:] != v[:-1])))
    counts, firsts, stops = _class_counts(s, e, lo, h * w)
    counts = counts.astype(np.uint32, copy=False)  # what pycocotools converts uncompressed counts to
    rles = mask_utils.frPyObjects([{"size": [h, w], "counts": counts[a:b]} for a, b in zip(firsts, stops)], h, w)
    area = np.add.reduceat(e - s, lo).tolist()
    xs, ys, xe, ye = class_boxes(s, e, lo, h)
    out = [{"segmentation": {"size": [h, w], "counts": r["counts"].decode("ascii")}, "area": area[i],
            "bbox": [float(xs[i]), float(ys[i]), float(xe[i] - xs[i] + 1), float(ye[i] - ys[i] + 1)]}
           for i, r in enumerate(rles)]
    return [int(c) for c in v[lo]], out


def _values(c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The values of 5-bit groups c (chars - 48) and the index of each value's last group."""
    last = np.flatnonzero((c & 0x20) == 0)
    starts = np.concatenate(([0], last[:-1] + 1))
    group = np.arange(c.size) - np.repeat(starts, last - starts + 1)
    x = np.add.reduceat((c & 0x1F) << (5 * group), starts)
    negative = (c[last] & 0x10) != 0
    x[negative] |= -1 << (5 * (group[last][negative] + 1))
    return x, last


def _decode_concat(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(all counts of `texts` concatenated, index of each text's first count); every text non-empty."""
    c = np.frombuffer("".join(texts).encode("ascii"), np.uint8).astype(np.int64) - 48
    x, last = _values(c)
    char_ends = np.cumsum([len(t) for t in texts])
    first = np.concatenate(([0], np.searchsorted(last, char_ends[:-1] - 1, side="right")))
    pos = _positions(first, len(x))
    counts = x.copy()
    # from the fourth count on each count adds the one two back: cumulative sums per parity
    for idx in (np.flatnonzero(pos % 2 == 1), np.flatnonzero((pos % 2 == 0) & (pos > 0))):
        if idx.size:
            seg = np.searchsorted(first, idx, side="right")
            counts[idx] = _segmented_cumsum(x[idx], np.flatnonzero(np.diff(seg, prepend=-1)))
    return counts, first


def decode_runs(texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Foreground runs of several non-empty compressed RLE strings: (starts, ends, owner, totals).

    owner: the index of the text each run comes from; totals: the pixels each
    text's counts cover (its image's H*W when well formed).
    """
    counts, first = _decode_concat(texts)
    pos = _positions(first, len(counts))
    bounds = _segmented_cumsum(counts, first)
    last = np.append(first[1:], len(counts)) - 1
    # counts of ones (odd positions; empty ones skipped): run i covers [bounds[i] - counts[i], bounds[i])
    odd = np.flatnonzero((pos % 2 == 1) & (counts > 0))
    owner = np.searchsorted(first, odd, side="right") - 1
    return bounds[odd] - counts[odd], bounds[odd], owner, bounds[last]


def canonical_runs(starts: np.ndarray, ends: np.ndarray, values: np.ndarray,
                   presorted: bool = False) -> tuple[np.ndarray, ...] | None:
    """Runs sorted by start (`presorted`: they are) with touching runs of one value merged; None if any two overlap."""
    if presorted:
        s, e, v = starts, ends, values
    else:
        order = np.argsort(starts, kind="stable")
        s, e, v = starts[order], ends[order], values[order]
    if np.any(s[1:] < e[:-1]):
        return None
    join = (s[1:] == e[:-1]) & (v[1:] == v[:-1])
    if join.any():
        head = np.concatenate(([True], ~join))
        tail = np.concatenate((~join, [True]))
        s, e, v = s[head], e[tail], v[head]
    return s, e, v


def runs_digest(starts: np.ndarray, ends: np.ndarray, values: np.ndarray) -> bytes:
    """Digest of canonical runs (sorted, maximal per value)."""
    h = hashlib.sha1(np.ascontiguousarray(starts, np.int64))
    h.update(np.ascontiguousarray(ends, np.int64))
    h.update(np.ascontiguousarray(values, np.int64))
    return h.digest()


def class_runs_digest(labels: np.ndarray, num_classes: int) -> bytes:
    """runs_digest of a label map's runs of class values (< num_classes); other values count as unlabelled."""
    s, e, v = label_runs(labels)
    keep = v < num_classes
    return runs_digest(s[keep], e[keep], v[keep])

