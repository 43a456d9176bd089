"""Segmentation metrics from a confusion matrix accumulated over a data set.

Rows are ground truth, columns predictions. Ground-truth pixels outside the
class range (the ignore index, or any stray value) are dropped. Predictions
outside the class range are kept as errors in an extra "invalid" column, so
they lower the ground-truth class's accuracy and IoU but count as no class.

Per-image accumulation fuses (gt, pred) into one uint8 code through saturating
OpenCV arithmetic and histograms it with `cv2.calcHist`. OpenCV releases the GIL,
so `ConfusionMatrix.update_many` spreads images over threads; see
benchmarks/bench_metrics.py for the figures against int64 `np.bincount` and
scikit-learn.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Iterable

import cv2
import numpy as np

from .score_math import Figures, figures_dict, figures_from_rows

# cv2.calcHist counts in float32, exact up to 2**24: histogram at most this many
# pixels per call so counts stay exact on very large images.
_CHUNK_PIXELS = 1 << 23


def _as_u8_2d(a: np.ndarray, what: str) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype != np.uint8:
        if a.size and (a.min() < 0):
            a = np.where(a < 0, 255, a)
        a = np.minimum(a, 255).astype(np.uint8)
    if a.ndim != 2:
        a = a.reshape(a.shape[0], -1) if a.ndim > 2 else a.reshape(1, -1)
    return np.ascontiguousarray(a)


def _clamp(a: np.ndarray, n: int) -> np.ndarray:
    """min(a, n) for uint8 arrays. THRESH_TRUNC is a SIMD min; cv2.min with a Python
    scalar is ambiguous for tiny arrays (the scalar may be read as a 4-vector)."""
    return cv2.threshold(a, n, 255, cv2.THRESH_TRUNC)[1]


def confusion_for(gt: np.ndarray, pred: np.ndarray, num_classes: int) -> np.ndarray:
    """The n x (n+1) int64 confusion matrix of one image (last column: invalid predictions)."""
    n = num_classes
    gt = _as_u8_2d(gt, "ground truth")
    pred = _as_u8_2d(pred, "prediction")
    if gt.shape != pred.shape:
        raise ValueError(f"ground truth {gt.shape[1]}x{gt.shape[0]} and prediction "
                         f"{pred.shape[1]}x{pred.shape[0]} differ in size")
    out = np.zeros((n + 1) * (n + 1), np.int64)
    rows_per_chunk = max(1, _CHUNK_PIXELS // max(1, gt.shape[1]))
    for r0 in range(0, gt.shape[0], rows_per_chunk):
        g = _clamp(gt[r0:r0 + rows_per_chunk], n)  # gt >= n (ignore) -> row n, dropped below
        p = _clamp(pred[r0:r0 + rows_per_chunk], n)  # pred >= n -> the invalid column
        if n <= 15:  # (n+1)^2 <= 256: one fused uint8 code per pixel
            code = cv2.scaleAdd(g, n + 1, p)
            h = cv2.calcHist([code], [0], None, [256], [0, 256]).ravel()[: (n + 1) ** 2]
        else:
            h = cv2.calcHist([g, p], [0, 1], None, [n + 1, n + 1], [0, n + 1, 0, n + 1]).ravel()
        out += h.astype(np.int64)
    return out.reshape(n + 1, n + 1)[:n].copy()


@dataclass
class Scores:
    """Headline and per-class figures; fractions in [0, 1], NaN where undefined."""

    pixel_accuracy: float
    mean_accuracy: float
    mean_iou: float
    fw_iou: float
    iou: np.ndarray
    accuracy: np.ndarray
    gt_pixels: np.ndarray
    pred_pixels: np.ndarray
    invalid_predictions: int

    def to_dict(self, class_names) -> dict:
        return figures_dict(Figures(self.pixel_accuracy, self.mean_accuracy, self.mean_iou, self.fw_iou,
                                    self.iou, self.accuracy, self.gt_pixels, self.pred_pixels,
                                    self.invalid_predictions), class_names)


def scores_from_matrix(matrix: np.ndarray) -> Scores:
    """Figures from an n x (n+1) (or n x n) confusion matrix (docs/design.md §7; core.score_math)."""
    f = figures_from_rows(np.asarray(matrix, np.int64).tolist())
    return Scores(
        pixel_accuracy=f.pixel_accuracy, mean_accuracy=f.mean_accuracy, mean_iou=f.mean_iou, fw_iou=f.fw_iou,
        iou=np.array(f.iou, np.float64), accuracy=np.array(f.accuracy, np.float64),
        gt_pixels=np.array(f.gt_pixels, np.int64), pred_pixels=np.array(f.pred_pixels, np.int64),
        invalid_predictions=f.invalid_predictions,
    )


class ConfusionMatrix:
    """Confusion matrix accumulated over many images."""

    def __init__(self, num_classes: int):
        if not 1 <= num_classes <= 255:
            raise ValueError(f"num_classes must be 1..255, got {num_classes}")
        self.num_classes = num_classes
        self.matrix = np.zeros((num_classes, num_classes + 1), np.int64)

    def update(self, gt: np.ndarray, pred: np.ndarray) -> np.ndarray:
        """Add one image; returns that image's own matrix."""
        m = confusion_for(gt, pred, self.num_classes)
        self.matrix += m
        return m

    def update_many(self, pairs: Iterable[tuple[np.ndarray, np.ndarray]], workers: int | None = None) -> list[np.ndarray]:
        """Add many (gt, pred) images, spread over `workers` threads; returns the per-image matrices."""
        workers = workers or min(8, os.cpu_count() or 1)
        n = self.num_classes
        if workers == 1:
            mats = [confusion_for(g, p, n) for g, p in pairs]
        else:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                mats = list(pool.map(lambda gp: confusion_for(gp[0], gp[1], n), pairs))
        for m in mats:
            self.matrix += m
        return mats

    def add_matrix(self, m: np.ndarray) -> None:
        self.matrix += m

    def rows(self) -> list[list[int]]:
        """The n x (n+1) counts as nested lists (what `core.score_math` takes)."""
        return self.matrix.tolist()

    @property
    def confusion(self) -> np.ndarray:
        """n x n counts, rows = ground truth (invalid predictions left out)."""
        return self.matrix[:, : self.num_classes]

    def scores(self) -> Scores:
        return scores_from_matrix(self.matrix)
