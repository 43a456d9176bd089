"""Edit operations on a label map (H x W uint8 class indices), each returning a Diff.

A Diff records the changed region of one edit -- its bounding box plus the old
and new values there -- so an undo stack can revert and re-apply it bit for bit
while holding memory proportional to the edited area, not to the image.

Operations: brush strokes along a polyline (round brush, no gaps, painted
incrementally while the mouse moves), erasing (a stroke with the ignore index),
polygons (cv2.fillPoly), flood fill of a connected same-class region, and
replacing the map by a prediction. Every operation takes an optional
`only_over` set of values: pixels holding any other value are protected
("protect other classes").

Coordinates are continuous image coordinates: pixel (x, y) covers
[x, x+1) x [y, y+1) and its centre is (x + 0.5, y + 0.5).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable, Sequence
import cv2
import numpy as np

#: A changed rectangle (x0, y0, x1, y1), end-exclusive, in image pixels.
BBox = tuple[int, int, int, int]

# Smallest brush radius that still yields 8-connected lines at any angle.
MIN_RADIUS = math.sqrt(0.5) + 1e-6
# Long segments are painted in pieces so that each piece's bounding box stays small.
_MAX_PIECE = 64.0
_TILE = 64


class Diff:
    """The change made by one edit: its bbox, and the old / new values inside it.

    Dense form (`index is None`): `old` and `new` are bbox-shaped arrays.
    Sparse form: `index` holds the flat positions (within the bbox) of the
    changed pixels and `old` / `new` their values -- used when few pixels of
    the bbox changed, e.g. a thin diagonal stroke. Either way the arrays are
    kept zlib-compressed (index delta-coded): label maps compress very well,
    so 100 brush strokes on a 24-megapixel image hold a few MB, not 60.
    """

    __slots__ = ("bbox", "sparse", "changed_pixels", "_blob", "_n", "_shape")

    def __init__(self, bbox: BBox, old: np.ndarray, new: np.ndarray, index: np.ndarray | None = None):
        self.bbox = tuple(int(v) for v in bbox)
        self.sparse = index is not None
        old = np.ascontiguousarray(old, np.uint8)
        new = np.ascontiguousarray(new, np.uint8)
        self._shape = old.shape
        self._n = old.size
        parts = [old.tobytes(), new.tobytes()]
        if index is not None:
            delta = np.diff(np.asarray(index, np.int64), prepend=0).astype(np.uint32)
            parts.append(delta.tobytes())
            self.changed_pixels = int(len(index))
        else:
            self.changed_pixels = int(np.count_nonzero(old != new))
        self._blob = zlib.compress(b"".join(parts), 1)

    def arrays(self) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
        """(index or None, old, new), decompressed."""
        raw = zlib.decompress(self._blob)
        n = self._n
        old = np.frombuffer(raw, np.uint8, n, 0).reshape(self._shape)
        new = np.frombuffer(raw, np.uint8, n, n).reshape(self._shape)
        index = None
        if self.sparse:
            index = np.cumsum(np.frombuffer(raw, np.uint32, n, 2 * n), dtype=np.int64)
        return index, old, new

    @property
    def old(self) -> np.ndarray:
        return self.arrays()[1]

    @property
    def new(self) -> np.ndarray:
        return self.arrays()[2]

    @property
    def index(self) -> np.ndarray | None:
        return self.arrays()[0]

    @property
    def nbytes(self) -> int:
        """Memory held by this diff."""
        return len(self._blob) + 64

    def apply(self, labels: np.ndarray) -> BBox:
        """Write the new values (redo)."""
        index, _, new = self.arrays()
        self._write(labels, index, new)
        return self.bbox

    def revert(self, labels: np.ndarray) -> BBox:
        """Write the old values back (undo)."""
        index, old, _ = self.arrays()
        self._write(labels, index, old)
        return self.bbox

    def _write(self, labels: np.ndarray, index, values: np.ndarray) -> None:
        x0, y0, x1, y1 = self.bbox
        if index is None:
            labels[y0:y1, x0:x1] = values
        else:
            w = x1 - x0
            labels[y0 + index // w, x0 + index % w] = values

    def counts_delta(self, n: int = 256) -> np.ndarray:
        """Per-value pixel-count change (length n) caused by applying this diff."""
        _, old, new = self.arrays()
        return class_counts(new, n) - class_counts(old, n)


def make_diff(labels: np.ndarray, bbox: BBox | None, old: np.ndarray) -> Diff | None:
    """Diff between `old` (the bbox region before an edit) and `labels` now; None if unchanged."""
    if bbox is None:
        return None
    x0, y0, x1, y1 = bbox
    new = labels[y0:y1, x0:x1]
    changed = old != new
    idx = np.flatnonzero(changed)
    if idx.size == 0:
        return None
    area = new.size
    # Sparse costs 6 bytes per changed pixel, dense 2 per bbox pixel (before compression).
    if idx.size * 6 < area * 2:
        oldf = old.ravel()[idx]
        newf = np.ascontiguousarray(new).ravel()[idx]
        return Diff(bbox, oldf, newf, idx)
    return Diff(bbox, old, new)


def union(a: BBox | None, b: BBox | None) -> BBox | None:
    if a is None:
        return b
    if b is None:
        return a
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


def _editable(region: np.ndarray, only_over: Iterable[int] | None) -> np.ndarray | None:
    """Boolean mask of pixels an edit may change (None = all)."""
    if only_over is None:
        return None
    values = sorted(set(int(v) for v in only_over))
    if len(values) == 1:
        return region == values[0]
    lut = np.zeros(256, bool)
    lut[values] = True
    return lut[region]


def brush_radius(size: float) -> float:
    """Radius of a round brush `size` pixels across."""
    return max(float(size) / 2.0, MIN_RADIUS)


def segment_footprint(p0: tuple[float, float], p1: tuple[float, float], radius: float,
                      shape: tuple[int, int]) -> tuple[BBox, np.ndarray] | None:
    """Pixels whose centres lie within `radius` of segment p0-p1: (bbox, bool mask) or None."""
    h, w = shape
    (ax, ay), (bx, by) = p0, p1
    x0 = max(int(math.floor(min(ax, bx) - radius - 0.5)), 0)
    y0 = max(int(math.floor(min(ay, by) - radius - 0.5)), 0)
    x1 = min(int(math.ceil(max(ax, bx) + radius + 0.5)), w)
    y1 = min(int(math.ceil(max(ay, by) + radius + 0.5)), h)
    if x0 >= x1 or y0 >= y1:
        return None
    xs = np.arange(x0, x1, dtype=np.float64) + 0.5 - ax
    ys = np.arange(y0, y1, dtype=np.float64)[:, None] + 0.5 - ay
    dx, dy = bx - ax, by - ay
    seg2 = dx * dx + dy * dy
    if seg2 > 0:
        t = np.clip((xs * dx + ys * dy) / seg2, 0.0, 1.0)
        ex = xs - t * dx
        ey = ys - t * dy
    else:
        ex, ey = xs, ys
    mask = ex * ex + ey * ey <= radius * radius
    if not mask.any():
        return None
    return (x0, y0, x1, y1), mask


def _pieces(p0, p1, radius):
    """Split a segment into collinear pieces no longer than max(_MAX_PIECE, 2r)."""
    (ax, ay), (bx, by) = p0, p1
    length = math.hypot(bx - ax, by - ay)
    n = max(1, int(math.ceil(length / max(_MAX_PIECE, 2 * radius))))
    prev = (ax, ay)
    for i in range(1, n + 1):
        t = i / n
        cur = (ax + (bx - ax) * t, ay + (by - ay) * t)
        yield prev, cur
        prev = cur


def paint_segment(labels: np.ndarray, p0, p1, radius: float, value: int,
                  only_over: Iterable[int] | None = None, before_write=None) -> BBox | None:
    """Paint `value` on the pixels within `radius` of segment p0-p1, in place.

    `before_write(bbox)` is called before any pixel of bbox changes (the stroke
    recorder backs up tiles there). Returns the bbox touched, or None.
    """
    touched = None
    only = None if only_over is None else tuple(only_over)
    for a, b in _pieces(p0, p1, radius):
        fp = segment_footprint(a, b, radius, labels.shape)
        if fp is None:
            continue
        (x0, y0, x1, y1), mask = fp
        region = labels[y0:y1, x0:x1]
        allowed = _editable(region, only)
        if allowed is not None:
            mask &= allowed
        mask &= region != value
        if not mask.any():
            continue
        if before_write is not None:
            before_write((x0, y0, x1, y1))
        region[mask] = value
        touched = union(touched, (x0, y0, x1, y1))
    return touched


class Stroke:
    """A brush or eraser stroke painted incrementally, one mouse position at a time.

    Before a tile of the map is first changed its original content is backed
    up, so `finish()` can build the stroke's Diff over its bounding box without
    ever copying the whole map.
    """

    def __init__(self, labels: np.ndarray, value: int, size: float,
                 only_over: Iterable[int] | None = None):
        self.labels = labels
        self.value = int(value)
        self.radius = brush_radius(size)
        self.only_over = None if only_over is None else tuple(only_over)
        self._last: tuple[float, float] | None = None
        self._tiles: dict[tuple[int, int], np.ndarray] = {}
        self.bbox: BBox | None = None

    def _backup(self, bbox: BBox) -> None:
        x0, y0, x1, y1 = bbox
        for ty in range(y0 // _TILE, (y1 - 1) // _TILE + 1):
            for tx in range(x0 // _TILE, (x1 - 1) // _TILE + 1):
                if (ty, tx) not in self._tiles:
                    self._tiles[(ty, tx)] = self.labels[ty * _TILE:(ty + 1) * _TILE,
                                                        tx * _TILE:(tx + 1) * _TILE].copy()

    def add_point(self, x: float, y: float) -> BBox | None:
        """Extend the stroke to (x, y); returns the bbox repainted (None if nothing changed)."""
        p = (float(x), float(y))
        start = self._last if self._last is not None else p
        self._last = p
        touched = paint_segment(self.labels, start, p, self.radius, self.value,
                                self.only_over, before_write=self._backup)
        self.bbox = union(self.bbox, touched)
        return touched

    def finish(self) -> Diff | None:
        """The whole stroke as one Diff (None if it changed nothing)."""
        if self.bbox is None:
            return None
        x0, y0, x1, y1 = self.bbox
        old = self.labels[y0:y1, x0:x1].copy()
        for (ty, tx), tile in self._tiles.items():
            tx0, ty0 = tx * _TILE, ty * _TILE
            ix0, iy0 = max(tx0, x0), max(ty0, y0)
            ix1, iy1 = min(tx0 + tile.shape[1], x1), min(ty0 + tile.shape[0], y1)
            if ix0 < ix1 and iy0 < iy1:
                old[iy0 - y0:iy1 - y0, ix0 - x0:ix1 - x0] = tile[iy0 - ty0:iy1 - ty0, ix0 - tx0:ix1 - tx0]
        self._tiles.clear()
        return make_diff(self.labels, self.bbox, old)


def paint_stroke(labels: np.ndarray, points: Sequence[tuple[float, float]], value: int, size: float,
                 only_over: Iterable[int] | None = None) -> Diff | None:
    """Paint a whole polyline at once (what a mouse drag through `points` does)."""
    stroke = Stroke(labels, value, size, only_over)
    for x, y in points:
        stroke.add_point(x, y)
    return stroke.finish()


def stroke_mask(shape: tuple[int, int], points: Sequence[tuple[float, float]], size: float) -> np.ndarray:
    """Boolean mask of the pixels a stroke through `points` covers (reference for tests/tools)."""
    m = np.zeros(shape, np.uint8)
    paint_stroke(m, points, 1, size)
    return m.astype(bool)


def polygon_mask(shape: tuple[int, int], points: Sequence[tuple[float, float]]) -> tuple[BBox, np.ndarray] | None:
    """Rasterise a polygon with cv2.fillPoly: (bbox, bool mask) or None.

    Each vertex is the pixel under it (floor of its coordinates); the filled
    area includes the boundary pixels, so the vertex pixels are always painted.
    """
    if len(points) < 3:
        return None
    h, w = shape
    pts = np.floor(np.asarray(points, np.float64)).astype(np.int64)
    x0 = max(int(pts[:, 0].min()), 0)
    y0 = max(int(pts[:, 1].min()), 0)
    x1 = min(int(pts[:, 0].max()) + 1, w)
    y1 = min(int(pts[:, 1].max()) + 1, h)
    if x0 >= x1 or y0 >= y1:
        return None
    rel = (pts - (x0, y0)).astype(np.int32)
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillPoly(mask, [rel.reshape(-1, 1, 2)], 1, lineType=cv2.LINE_8)
    if not mask.any():
        return None
    return (x0, y0, x1, y1), mask.astype(bool)


def fill_polygon(labels: np.ndarray, points: Sequence[tuple[float, float]], value: int,
                 only_over: Iterable[int] | None = None) -> Diff | None:
    """Fill the polygon through `points` with `value`."""
    pm = polygon_mask(labels.shape, points)
    if pm is None:
        return None
    return apply_region(labels, pm[0], pm[1], value, only_over)


def apply_region(labels: np.ndarray, bbox: BBox, mask: np.ndarray, value: int,
                 only_over: Iterable[int] | None = None) -> Diff | None:
    """Set the pixels of `mask` (bbox-shaped, bool) inside `bbox` to `value`."""
    x0, y0, x1, y1 = bbox
    region = labels[y0:y1, x0:x1]
    allowed = _editable(region, only_over)
    if allowed is not None:
        mask = mask & allowed
    old = region.copy()
    region[mask] = value
    return make_diff(labels, bbox, old)


def flood_fill(labels: np.ndarray, x: int, y: int, value: int,
               only_over: Iterable[int] | None = None) -> Diff | None:
    """Fill the 4-connected region of pixel (x, y)'s class with `value`."""
    h, w = labels.shape
    x, y = int(x), int(y)
    if not (0 <= x < w and 0 <= y < h):
        return None
    seed = int(labels[y, x])
    if seed == value:
        return None
    if only_over is not None and seed not in set(int(v) for v in only_over):
        return None
    src = labels if labels.flags.c_contiguous else np.ascontiguousarray(labels)
    mask = np.zeros((h + 2, w + 2), np.uint8)
    flags = 4 | cv2.FLOODFILL_MASK_ONLY | cv2.FLOODFILL_FIXED_RANGE | (1 << 8)
    _, _, _, (rx, ry, rw, rh) = cv2.floodFill(src, mask, (x, y), 0, 0, 0, flags)
    bbox = (rx, ry, rx + rw, ry + rh)
    region_mask = mask[1 + ry:1 + ry + rh, 1 + rx:1 + rx + rw].astype(bool)
    return apply_region(labels, bbox, region_mask, value, None)


def replace_labels(labels: np.ndarray, new: np.ndarray, only_unlabelled: bool = False,
                   ignore_index: int = 255) -> Diff | None:
    """Make `new` the label map (e.g. a prediction); optionally fill only unlabelled pixels."""
    if new.shape != labels.shape:
        raise ValueError(f"prediction is {new.shape[1]}x{new.shape[0]}, label map is {labels.shape[1]}x{labels.shape[0]}")
    h, w = labels.shape
    old = labels.copy()
    if only_unlabelled:
        m = labels == ignore_index
        labels[m] = new[m]
    else:
        labels[...] = new
    return make_diff(labels, (0, 0, w, h), old)


def class_counts(labels: np.ndarray, n: int = 256) -> np.ndarray:
    """Pixel count of each value 0..n-1 (cv2.calcHist: ~20x faster than np.bincount on uint8)."""
    a = labels if labels.ndim == 2 else labels.reshape(1, -1)
    if a.size == 0:
        return np.zeros(n, np.int64)
    if not a.flags.c_contiguous:
        a = np.ascontiguousarray(a)
    hist = cv2.calcHist([a], [0], None, [256], [0, 256])
    # float32 counts are exact up to 2**24 per bin; recount the rare bigger bins exactly
    counts = hist.ravel().astype(np.int64)
    big = np.flatnonzero(counts >= 1 << 24)
    for v in big:
        counts[v] = int(np.count_nonzero(a == v))
    return counts[:n]


def pick(labels: np.ndarray, x: float, y: float) -> int | None:
    """Value under continuous position (x, y), or None outside the map."""
    xi, yi = int(math.floor(x)), int(math.floor(y))
    h, w = labels.shape
    if 0 <= xi < w and 0 <= yi < h:
        return int(labels[yi, xi])
    return None


def outline(labels: np.ndarray, background: int) -> np.ndarray:
    """Copy of `labels` keeping only pixels on a class boundary (others set to `background`)."""
    edge = np.zeros(labels.shape, bool)
    edge[:, 1:] |= labels[:, 1:] != labels[:, :-1]
    edge[:, :-1] |= labels[:, :-1] != labels[:, 1:]
    edge[1:, :] |= labels[1:, :] != labels[:-1, :]
    edge[:-1, :] |= labels[:-1, :] != labels[1:, :]
    out = np.full_like(labels, background)
    out[edge] = labels[edge]
    return out
