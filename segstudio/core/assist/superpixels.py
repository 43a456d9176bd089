"""Superpixels for the superpixel brush: compute once per image, then map clicks to full-resolution masks.

Method (chosen by measurement, see benchmarks/bench_assist.py --compare): a
watershed in OpenCV (`cv2.watershed`, flooding the Lab image from a regular grid
of seeds, each nudged to the lowest-gradient pixel of its 3x3 neighbourhood).
A seed per grid cell keeps segments compact and about equally large; the
flooding makes their borders follow colour edges. Large images are segmented at
a working resolution (at most `WORK_PIXELS`) and the labels are mapped back to
full resolution per click (nearest), so memory stays at one int32 map per level
at the working size.

Levels: "coarse", "medium" and "fine" segment counts per image (100 / 400 /
1600: on a CamVid frame the simulated annotator of benchmarks/bench_effort.py
spent 32.7 with these against 39.6 with 400 / 1600). `Superpixels` answers
"which segment is under (x, y)" and "full-resolution mask of these segments"
and gives a boundary image for display. Nothing here uses Qt.
"""

from __future__ import annotations

import math
import cv2
import numpy as np

from segstudio.core.assist.levels import LEVELS
from segstudio.core.errors import SegstudioError
from segstudio.core.jobs import CancelFn, check_cancel

#: Largest image area segmented as is; bigger images are downscaled to this many pixels first.
WORK_PIXELS = 1_000_000
#: A level with at least 4x this many working pixels per segment is computed at half the working size.
COARSE_PIXELS_PER_SEGMENT = 1500


def watershed_superpixels(image: np.ndarray, n_segments: int, lab: np.ndarray | None = None) -> np.ndarray:
    """Int32 labels 0..n-1 (HxW) of about `n_segments` compact segments of an RGB uint8 image
    (`lab`: its 8-bit Lab conversion, when the caller has it)."""
    h, w = image.shape[:2]
    if lab is None:
        lab = smoothed_lab(image)
    step = max(2.0, math.sqrt(h * w / max(1, n_segments)))
    ys = np.arange(step / 2, h, step).astype(np.int64)
    xs = np.arange(step / 2, w, step).astype(np.int64)
    gy, gx = np.meshgrid(np.minimum(ys, h - 1), np.minimum(xs, w - 1), indexing="ij")
    gy, gx = _nudge_to_low_gradient(lab, gy.ravel(), gx.ravel())
    markers = np.zeros((h, w), np.int32)
    markers[gy, gx] = np.arange(1, gy.size + 1, dtype=np.int32)
    cv2.watershed(lab, markers)
    return _snap_edge_pixels(_fill_ridges(markers), lab) - 1


def smoothed_lab(image: np.ndarray) -> np.ndarray:
    """8-bit Lab of the image after a 3x3 median (on CamVid val: achievable accuracy 0.937 -> 0.943 at 400
    segments, 0.965 -> 0.968 at 1600, boundary recall unchanged; Gaussian and bilateral did less)."""
    return cv2.cvtColor(cv2.medianBlur(image, 3), cv2.COLOR_RGB2Lab)


def _nudge_to_low_gradient(lab: np.ndarray, ys: np.ndarray, xs: np.ndarray):
    """Move each seed to the lowest-gradient pixel of its 3x3 neighbourhood (as SLIC does)."""
    h, w = lab.shape[:2]
    gray = lab[:, :, 0].astype(np.float32)
    grad = np.abs(cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3)) + np.abs(cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3))
    best_y, best_x = ys.copy(), xs.copy()
    best = grad[ys, xs]
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            yy, xx = np.clip(ys + dy, 0, h - 1), np.clip(xs + dx, 0, w - 1)
            g = grad[yy, xx]
            better = g < best
            best = np.where(better, g, best)
            best_y = np.where(better, yy, best_y)
            best_x = np.where(better, xx, best_x)
    # Two seeds may land on one pixel: keep the first, the other's segment is absorbed.
    _, first = np.unique(best_y * w + best_x, return_index=True)
    return best_y[np.sort(first)], best_x[np.sort(first)]


def _fill_ridges(markers: np.ndarray) -> np.ndarray:
    """Give watershed ridge pixels (-1) a neighbour's label (the largest; `_snap_edge_pixels` then
    moves each to the side whose colour it has)."""
    out = markers
    while True:
        ridge = out <= 0
        if not ridge.any():
            return out
        # Labels stay exact in float32 up to 2**24 segments.
        grown = cv2.dilate(out.astype(np.float32), np.ones((3, 3), np.uint8)).astype(np.int32)
        out = np.where(ridge, grown, out)


def _snap_edge_pixels(labels: np.ndarray, lab: np.ndarray, passes: int = 2) -> np.ndarray:
    """Move each segment-border pixel to the neighbouring segment whose mean colour is closest.

    cv2.watershed's 8-bit flooding leaves single pixels, and its ridges, on the wrong side of a sharp
    edge; this puts them on their own side (measured: boundary recall 0.78 -> 0.81 at 400 segments).
    """
    n = int(labels.max()) + 1
    labf = lab.reshape(-1, 3).astype(np.float32)
    h, w = labels.shape
    for _ in range(passes):
        flat = labels.ravel()
        cnt = np.maximum(np.bincount(flat, minlength=n), 1).astype(np.float32)
        means = np.stack([np.bincount(flat, labf[:, c], minlength=n) for c in range(3)], 1) / cnt[:, None]
        border = boundary_map(labels)
        border[:, 1:] |= border[:, :-1]
        border[1:, :] |= border[:-1, :]
        ys, xs = np.nonzero(border)
        here = labf[ys * w + xs]
        best_lbl = labels[ys, xs]
        best = np.abs(means[best_lbl] - here).sum(1)
        for dy, dx in ((0, -1), (0, 1), (-1, 0), (1, 0)):
            lbl = labels[np.clip(ys + dy, 0, h - 1), np.clip(xs + dx, 0, w - 1)]
            d = np.abs(means[lbl] - here).sum(1)
            better = d < best
            best[better], best_lbl[better] = d[better], lbl[better]
        labels = labels.copy()
        labels[ys, xs] = best_lbl
    return labels


def _relabel(labels: np.ndarray) -> tuple[np.ndarray, int]:
    """Labels renumbered 0..n-1 without gaps, and n."""
    present = np.bincount(labels.ravel()) > 0
    lut = (np.cumsum(present) - 1).astype(np.int32)
    return lut[labels], int(present.sum())


class Superpixels:
    """Superpixel levels of one image, held at a working resolution, answered at full resolution."""

    def __init__(self, shape: tuple[int, int], levels: dict[str, np.ndarray]):
        self.shape = (int(shape[0]), int(shape[1]))
        self.levels: dict[str, np.ndarray] = {}
        self._bboxes: dict[str, np.ndarray] = {}
        for name, labels in levels.items():
            labels, n = _relabel(labels)
            self.levels[name] = labels
            self._bboxes[name] = _segment_bboxes(labels, n)
        first = next(iter(self.levels.values()))
        self.work_shape = first.shape
        h, w = self.shape
        wh, ww = self.work_shape
        # Full-resolution pixel -> working pixel (the mapping cv2.resize INTER_NEAREST uses).
        self._sy, self._sx = wh / h, ww / w

    def count(self, level: str) -> int:
        return int(self._bboxes[level].shape[0])

    def _work_xy(self, x: float, y: float) -> tuple[int, int]:
        wh, ww = self.work_shape
        return (min(int(math.floor(x * self._sx)), ww - 1), min(int(math.floor(y * self._sy)), wh - 1))

    def segment_at(self, level: str, x: float, y: float) -> int | None:
        """Segment id under full-resolution point (x, y), or None outside the image."""
        h, w = self.shape
        if not (0 <= x < w and 0 <= y < h):
            return None
        wx, wy = self._work_xy(x, y)
        return int(self.levels[level][wy, wx])

    def segments_along(self, level: str, points) -> list[int]:
        """Distinct segment ids under a polyline of full-resolution points, in the order met."""
        seen: dict[int, None] = {}
        pts = list(points)
        for (x0, y0), (x1, y1) in zip(pts, pts[1:] or pts):
            n = max(1, int(math.ceil(max(abs(x1 - x0) * self._sx, abs(y1 - y0) * self._sy))))
            for t in np.linspace(0.0, 1.0, n + 1):
                s = self.segment_at(level, x0 + (x1 - x0) * t, y0 + (y1 - y0) * t)
                if s is not None:
                    seen.setdefault(s, None)
        return list(seen)

    def mask(self, level: str, ids) -> tuple[tuple[int, int, int, int], np.ndarray] | None:
        """((x0, y0, x1, y1), bool mask) at full resolution covering the given segments, or None."""
        ids = np.unique(np.asarray(list(ids), np.int64))
        if ids.size == 0:
            return None
        b = self._bboxes[level][ids]
        wx0, wy0, wx1, wy1 = int(b[:, 0].min()), int(b[:, 1].min()), int(b[:, 2].max()), int(b[:, 3].max())
        h, w = self.shape
        x0, y0 = int(math.floor(wx0 / self._sx)), int(math.floor(wy0 / self._sy))
        x1, y1 = min(w, int(math.ceil(wx1 / self._sx)) + 1), min(h, int(math.ceil(wy1 / self._sy)) + 1)
        xs = np.minimum((np.arange(x0, x1) * self._sx).astype(np.int64), self.work_shape[1] - 1)
        ys = np.minimum((np.arange(y0, y1) * self._sy).astype(np.int64), self.work_shape[0] - 1)
        crop = self.levels[level][wy0:wy1, wx0:wx1]
        if ids.size == 1:
            hit = crop == ids[0]
        else:
            lut = np.zeros(self.count(level), bool)
            lut[ids] = True
            hit = lut[crop]
        m = hit[np.clip(ys - wy0, 0, hit.shape[0] - 1)[:, None], np.clip(xs - wx0, 0, hit.shape[1] - 1)[None, :]]
        # Trim rows/columns that map outside the segments' working bbox.
        m &= ((ys >= wy0) & (ys < wy1))[:, None] & ((xs >= wx0) & (xs < wx1))[None, :]
        return (x0, y0, x1, y1), m

    def full_labels(self, level: str) -> np.ndarray:
        """Int32 segment map at full resolution (memory: 4 bytes per pixel; for tests and benchmarks)."""
        h, w = self.shape
        labels = self.levels[level]
        if labels.shape == (h, w):
            return labels
        ys = np.minimum((np.arange(h) * self._sy).astype(np.int64), labels.shape[0] - 1)
        xs = np.minimum((np.arange(w) * self._sx).astype(np.int64), labels.shape[1] - 1)
        return labels[ys[:, None], xs[None, :]]

    def boundaries(self, level: str) -> np.ndarray:
        """Bool map at the working resolution: True on pixels whose right or lower neighbour differs."""
        return boundary_map(self.levels[level])


def boundary_map(labels: np.ndarray) -> np.ndarray:
    b = np.zeros(labels.shape, bool)
    b[:, :-1] |= labels[:, :-1] != labels[:, 1:]
    b[:-1, :] |= labels[:-1, :] != labels[1:, :]
    return b


def _segment_bboxes(labels: np.ndarray, n: int) -> np.ndarray:
    """(n, 4) int64 working-resolution boxes x0, y0, x1, y1 (end-exclusive) of each segment."""
    h, w = labels.shape
    rows = np.zeros((h, n), bool)
    rows[np.repeat(np.arange(h), w), labels.ravel()] = True
    cols = np.zeros((w, n), bool)
    cols[np.tile(np.arange(w), h), labels.ravel()] = True
    out = np.empty((n, 4), np.int64)
    out[:, 0] = cols.argmax(0)
    out[:, 2] = w - cols[::-1].argmax(0)
    out[:, 1] = rows.argmax(0)
    out[:, 3] = h - rows[::-1].argmax(0)
    return out


def working_image(image: np.ndarray, max_pixels: int = WORK_PIXELS) -> np.ndarray:
    """The image itself, or downscaled (INTER_AREA) to at most `max_pixels`."""
    h, w = image.shape[:2]
    if h * w <= max_pixels:
        return image
    f = math.sqrt(max_pixels / (h * w))
    return cv2.resize(image, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)


def compute_superpixels(image: np.ndarray, levels: dict[str, int] | None = None,
                        max_pixels: int = WORK_PIXELS, cancelled: CancelFn | None = None) -> Superpixels:
    """Superpixels of an RGB uint8 image at each level (name -> segment count); `cancelled()` is
    checked between levels (raises segstudio.core.jobs.Cancelled)."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise SegstudioError(f"superpixels need an HxWx3 uint8 image, got {getattr(image, 'shape', type(image))}")
    work = working_image(image, max_pixels)
    lab = smoothed_lab(work)
    wh, ww = work.shape[:2]
    out = {}
    for name, n in (levels or LEVELS).items():
        check_cancel(cancelled)
        if n * COARSE_PIXELS_PER_SEGMENT * 4 <= wh * ww:
            # Few, large segments: segment at half the size (a quarter of the time), map back (nearest).
            half, half_lab = (cv2.resize(a, (ww // 2, wh // 2), interpolation=cv2.INTER_AREA) for a in (work, lab))
            small = watershed_superpixels(half, n, half_lab)
            out[name] = cv2.resize(small.astype(np.float32), (ww, wh), interpolation=cv2.INTER_NEAREST).astype(np.int32)
        else:
            out[name] = watershed_superpixels(work, n, lab)
    return Superpixels(image.shape[:2], out)

