"""COCO's compressed RLE, encoded and decoded with numpy for a whole label map at once.

pycocotools encodes one binary mask per call and holds the GIL while it
works, so an exporter that calls it per class is bound to one core. Here a
label map is read once in column-major order (COCO's), split into runs of
equal labels, and the runs of every class become that class's counts; the
counts are compressed to COCO's string form (5-bit groups, deltas against the
count two back from the fourth on, as pycocotools' rleToString does) with
array operations. `decode_counts` is the independent inverse used by the
exporter's self-check. Area and bounding box follow pycocotools' definitions
(bbox [x, y, w, h] of the covered pixels).
"""

from __future__ import annotations

import numpy as np

MAX_GROUPS = 13  # 5-bit groups in a 64-bit value


def label_runs(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(starts, ends, values) of the runs of equal labels in column-major order."""
    flat = np.ascontiguousarray(labels.T).ravel()
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    starts = np.concatenate(([0], change))
    ends = np.concatenate((change, [flat.size]))
    return starts, ends, flat[starts]


def _compress(x: np.ndarray) -> tuple[bytes, np.ndarray]:
    """COCO's 5-bit groups of the (already delta-coded) values x: the bytes and each value's length."""
    chars = np.empty((len(x), MAX_GROUPS), np.uint8)
    valid = np.zeros((len(x), MAX_GROUPS), bool)
    active = np.ones(len(x), bool)
    for j in range(MAX_GROUPS):
        c = x & 0x1F
        x = x >> 5  # arithmetic shift: negative deltas end on the sign
        more = np.where(c & 0x10, x != -1, x != 0)
        chars[:, j] = (c | (more.astype(np.int64) << 5)) + 48
        valid[:, j] = active
        active &= more
        if not active.any():
            break
    return chars[valid].tobytes(), valid.sum(axis=1)


def _deltas(counts: np.ndarray, first: np.ndarray) -> np.ndarray:
    """Counts minus the count two back, from each RLE's fourth count on (`first`: where each RLE starts)."""
    x = counts.astype(np.int64)
    pos = np.arange(len(x)) - np.repeat(first, np.diff(np.append(first, len(x))))
    later = np.flatnonzero(pos >= 3)
    x[later] -= counts[later - 2]
    return x


def compress_counts(counts: np.ndarray) -> str:
    """pycocotools' rleToString for an array of run lengths."""
    data, _ = _compress(_deltas(np.asarray(counts, np.int64), np.array([0])))
    return data.decode("ascii")


def _values(c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The values of 5-bit groups c (chars - 48) and the index of each value's last group."""
    last = np.flatnonzero((c & 0x20) == 0)
    starts = np.concatenate(([0], last[:-1] + 1))
    group = np.arange(c.size) - np.repeat(starts, last - starts + 1)
    x = np.add.reduceat((c & 0x1F) << (5 * group), starts)
    negative = (c[last] & 0x10) != 0
    x[negative] |= -1 << (5 * (group[last][negative] + 1))
    return x, last


def _undelta(x: np.ndarray) -> np.ndarray:
    """Counts of one RLE from its delta-coded values: from the fourth on, each adds the count two back."""
    counts = x.copy()
    counts[1::2] = np.cumsum(x[1::2])
    counts[2::2] = np.cumsum(x[2::2])
    return counts


def decode_many(texts: list[str]) -> list[np.ndarray]:
    """Run lengths of several compressed RLE strings (inverse of compress_counts), in one pass."""
    if not texts:
        return []
    c = np.frombuffer("".join(texts).encode("ascii"), np.uint8).astype(np.int64) - 48
    x, last = _values(c) if c.size else (np.zeros(0, np.int64), np.zeros(0, np.int64))
    char_ends = np.cumsum([len(t) for t in texts])
    value_ends = np.searchsorted(last, char_ends - 1, side="right")
    return [_undelta(v) for v in np.split(x, value_ends[:-1])]


def decode_counts(text: str) -> np.ndarray:
    """The run lengths of one compressed RLE string."""
    return decode_many([text])[0]


def encode_label_map(labels: np.ndarray, classes: list[int]) -> list[dict]:
    """One COCO annotation body {segmentation, area, bbox} per class in `classes` (each present)."""
    h, w = labels.shape
    starts, ends, values = label_runs(labels)
    order = np.argsort(values, kind="stable")
    s, e = starts[order], ends[order]
    lo = np.searchsorted(values[order], classes)
    hi = np.searchsorted(values[order], np.asarray(classes) + 1)
    # Per class: 0, s0, e0, s1, e1, ..., and h*w unless the last run reaches the end.
    all_counts, first, spans = [], [], []
    for a, b in zip(lo, hi):
        bounds = np.empty(2 * (b - a) + 2, np.int64)
        bounds[0], bounds[1:-1:2], bounds[2:-1:2], bounds[-1] = 0, s[a:b], e[a:b], h * w
        counts = np.diff(bounds if e[b - 1] != h * w else bounds[:-1])
        first.append(sum(len(c) for c in all_counts))
        all_counts.append(counts)
    counts = np.concatenate(all_counts)
    data, lengths = _compress(_deltas(counts, np.array(first)))
    char_ends = np.cumsum(lengths)[np.append(np.array(first[1:], np.int64), len(counts)) - 1]
    text = data.decode("ascii")
    sel = np.concatenate([np.arange(a, b) for a, b in zip(lo, hi)])
    s, e = s[sel], e[sel]
    lo = np.concatenate(([0], np.cumsum(hi - lo)[:-1]))
    x0, x1 = s // h, (e - 1) // h
    crosses = x1 > x0  # a run over a column boundary covers the top and the bottom row
    y0 = np.where(crosses, 0, s % h)
    y1 = np.where(crosses, h - 1, (e - 1) % h)
    area = np.add.reduceat(e - s, lo)
    xs, xe = np.minimum.reduceat(x0, lo), np.maximum.reduceat(x1, lo)
    ys, ye = np.minimum.reduceat(y0, lo), np.maximum.reduceat(y1, lo)
    out, prev = [], 0
    for i, end in enumerate(char_ends):
        out.append({"segmentation": {"size": [h, w], "counts": text[prev:end]}, "area": int(area[i]),
                    "bbox": [float(xs[i]), float(ys[i]), float(xe[i] - xs[i] + 1), float(ye[i] - ys[i] + 1)]})
        prev = end
    return out


def rebuild_label_map(h: int, w: int, classes_counts: list[tuple[int, np.ndarray]], fill: int) -> np.ndarray:
    """The H x W label map that non-overlapping RLEs (class, counts) paint over `fill`."""
    marker = np.zeros(h * w + 1, np.int32)
    for value, counts in classes_counts:
        bounds = np.cumsum(counts)
        starts, stops = bounds[0:-1:2], bounds[1::2]
        marker[starts] += value - fill
        marker[stops] -= value - fill
    flat = (np.cumsum(marker[:-1]) + fill).astype(np.uint8)
    return flat.reshape(w, h).T
