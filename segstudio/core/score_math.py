"""The segmentation figures of a confusion matrix in plain Python (no NumPy).

`segstudio eval` scores a folder without loading NumPy (its import is half the
command's start-up), so the formulas live here, on nested lists of ints, and
`core.metrics.scores_from_matrix` wraps the same numbers in arrays. Results
are bit-identical to NumPy's: sums of floats follow NumPy's pairwise
summation (`pairwise_sum`), and every division is of exactly representable
integers or floats, which Python and NumPy round the same way.

Rows are ground truth, columns predictions; an (n+1)-th column, if present,
holds predictions outside the class range (errors that count as no class).
"""

from __future__ import annotations

import math
from typing import NamedTuple, Sequence

NAN = float("nan")
_BLOCK = 128  # NumPy's PW_BLOCKSIZE


def pairwise_sum(a: Sequence[float]) -> float:
    """sum(a) rounded exactly as NumPy's float64 `add.reduce` of a contiguous array rounds it."""
    return 0.0 + _pairwise(a, 0, len(a))  # NumPy starts the reduction from the identity 0.0


def _pairwise(a: Sequence[float], lo: int, n: int) -> float:
    if n < 8:
        res = 0.0  # NumPy's "-0.0 preserving" start only matters for all -0.0 input, never a count
        for i in range(lo, lo + n):
            res += a[i]
        return res
    if n <= _BLOCK:
        r = [a[lo + j] for j in range(8)]
        i = 8
        while i < n - (n % 8):
            for j in range(8):
                r[j] += a[lo + i + j]
            i += 8
        res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
        for k in range(i, n):
            res += a[lo + k]
        return res
    n2 = n // 2
    n2 -= n2 % 8
    return _pairwise(a, lo, n2) + _pairwise(a, lo + n2, n - n2)


def _nanmean(values: list[float]) -> float:
    kept = [v for v in values if not math.isnan(v)]
    return pairwise_sum(kept) / len(kept) if kept else NAN


class Figures(NamedTuple):
    """Headline and per-class figures; fractions in [0, 1], NaN where undefined."""

    pixel_accuracy: float
    mean_accuracy: float
    mean_iou: float
    fw_iou: float
    iou: list[float]
    accuracy: list[float]
    gt_pixels: list[int]  # ground-truth pixels per class, invalid predictions included
    pred_pixels: list[int]  # predicted pixels per class (valid ground truth only)
    invalid_predictions: int


def figures_from_rows(rows: Sequence[Sequence[int]]) -> Figures:
    """Figures from an n x (n+1) (or n x n) confusion matrix given as rows of ints."""
    n = len(rows)
    rows = [[int(v) for v in row] for row in rows]
    invalid = [sum(row[n:]) for row in rows]
    diag = [float(rows[i][i]) for i in range(n)]
    t = [sum(row[:n]) + inv for row, inv in zip(rows, invalid)]
    p = [sum(rows[i][j] for i in range(n)) for j in range(n)]
    total = sum(t)
    acc = [d / ti if ti > 0 else NAN for d, ti in zip(diag, t)]
    unions = [ti + pi - d for ti, pi, d in zip(t, p, diag)]
    iou = [d / u if u > 0 else NAN for d, u in zip(diag, unions)]
    pix = pairwise_sum(diag) / total if total else NAN
    if total:
        weighted = [(ti / total) * v for ti, v in zip(t, iou)]
        fw = pairwise_sum([0.0 if math.isnan(w) else w for w in weighted])
    else:
        fw = NAN
    return Figures(pixel_accuracy=pix, mean_accuracy=_nanmean(acc), mean_iou=_nanmean(iou), fw_iou=fw,
                   iou=iou, accuracy=acc, gt_pixels=t, pred_pixels=p, invalid_predictions=sum(invalid))


def _num(v: float) -> float | None:
    v = float(v)
    return None if math.isnan(v) else v


def figures_dict(f: Figures, class_names: Sequence[str]) -> dict:
    """The figures as the JSON document's keys (NaN written as null)."""
    return {
        "pixel_accuracy": _num(f.pixel_accuracy),
        "mean_accuracy": _num(f.mean_accuracy),
        "mean_iou": _num(f.mean_iou),
        "fw_iou": _num(f.fw_iou),
        "per_class": [
            {"name": name, "iou": _num(f.iou[i]), "accuracy": _num(f.accuracy[i]),
             "gt_pixels": int(f.gt_pixels[i]), "pred_pixels": int(f.pred_pixels[i])}
            for i, name in enumerate(class_names)
        ],
        "invalid_predictions": int(f.invalid_predictions),
    }
