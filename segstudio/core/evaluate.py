"""Scoring a folder of predicted label PNGs against a folder of ground truth.

Files are paired by stem; missing, extra, unreadable and size-mismatched
pairs are reported by name. Decoding and per-image accumulation run on a
thread pool (Pillow and OpenCV release the GIL while they work). Plain 8-bit
pairs are counted by `core.label_decode` with Pillow alone and the figures
computed by `core.score_math`, so scoring a folder loads neither NumPy nor
OpenCV; other pairs take `core.eval_arrays` (the same counts, on arrays).

Values are never dropped in silence: ground-truth pixels that are neither a
class nor void (the ignore index, or 255) - e.g. 200 in an 11-class set - are not scored but
counted per file (`ImageResult.stray_gt`, `Evaluation.stray_gt()`, the
report's "stray_ground_truth"). Predictions may be 16-bit PNGs: their values
are well defined, and any value beyond the classes is scored as an error.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

from .errors import SegstudioError
from .jobs import Cancelled
from .label_decode import FAST_MAX_CLASSES, label_pngs, open_plain_label, pair_counts
from .labels import LabelSet
from .score_math import figures_dict, figures_from_rows

if TYPE_CHECKING:
    from .metrics import ConfusionMatrix, Scores


def __getattr__(name: str) -> Any:
    """`read_prediction_png` and `stray_values` live with NumPy in core.eval_arrays, loaded on first use."""
    if name in ("read_prediction_png", "stray_values"):
        from . import eval_arrays

        return getattr(eval_arrays, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass
class Pairing:
    pairs: list[tuple[str, Path, Path]]  # (stem, prediction, ground truth)
    missing: list[str]  # ground truth with no prediction
    extra: list[str]  # prediction with no ground truth


def _pngs_by_stem(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        raise SegstudioError(f"{folder}: not a folder")
    return label_pngs(folder)


def pair_folders(pred_dir: str | Path, gt_dir: str | Path) -> Pairing:
    pred = _pngs_by_stem(Path(pred_dir))
    gt = _pngs_by_stem(Path(gt_dir))
    stems = sorted(set(pred) & set(gt))
    return Pairing(
        pairs=[(s, pred[s], gt[s]) for s in stems],
        missing=sorted(set(gt) - set(pred)),
        extra=sorted(set(pred) - set(gt)),
    )


def _rows(matrix: Any) -> list[list[int]]:
    return matrix.tolist() if hasattr(matrix, "tolist") else [list(r) for r in matrix]


@dataclass
class ImageResult:
    stem: str
    matrix: Any = None  # n x (n+1) counts: nested lists of ints, or a NumPy array (nets.evaluation)
    error: str | None = None
    stray_gt: dict[int, int] = field(default_factory=dict)  # GT value outside the label set -> pixels

    def scores(self) -> Scores | None:
        if self.matrix is None:
            return None
        from .metrics import scores_from_matrix

        return scores_from_matrix(self.matrix)


class ConfusionCounts:
    """Counts accumulated over many images as nested lists (no NumPy), read like a `metrics.ConfusionMatrix`."""

    def __init__(self, num_classes: int):
        self.num_classes = num_classes
        self._rows = [[0] * (num_classes + 1) for _ in range(num_classes)]

    def add_matrix(self, m: Sequence[Sequence[int]]) -> None:
        for row, add in zip(self._rows, _rows(m)):
            for j, v in enumerate(add):
                row[j] += v

    def rows(self) -> list[list[int]]:
        """The n x (n+1) counts (last column: invalid predictions)."""
        return [list(r) for r in self._rows]

    @property
    def matrix(self):
        """The n x (n+1) counts as a new int64 array (a copy: adding to it changes nothing here)."""
        import numpy as np

        return np.array(self._rows, np.int64).reshape(self.num_classes, self.num_classes + 1)

    @property
    def confusion(self):
        """n x n counts, rows = ground truth (invalid predictions left out)."""
        return self.matrix[:, : self.num_classes]

    def scores(self) -> Scores:
        from .metrics import scores_from_matrix

        return scores_from_matrix(self._rows)


@dataclass
class Evaluation:
    labelset: LabelSet
    total: ConfusionMatrix | ConfusionCounts
    images: list[ImageResult] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)

    @property
    def scored(self) -> list[ImageResult]:
        return [r for r in self.images if r.matrix is not None]

    @property
    def failed(self) -> list[ImageResult]:
        return [r for r in self.images if r.error is not None]

    def scores(self) -> Scores:
        return self.total.scores()

    def stray_gt(self) -> list[tuple[str, dict[int, int]]]:
        """(stem, {value: pixels}) of every scored image whose ground truth holds values outside the label set."""
        return [(r.stem, r.stray_gt) for r in self.images if r.stray_gt]

    def stray_lines(self) -> list[str]:
        """One warning per file with stray ground-truth values (not scored)."""
        ls = self.labelset
        return [f"{stem}.png: ground truth holds values outside the label set (classes 0..{ls.num_classes - 1}, "
                f"ignore {ls.ignore_index}): " + ", ".join(f"{v} ({n:,} px)" for v, n in sorted(vals.items()))
                + "; not scored" for stem, vals in self.stray_gt()]

    def report(self) -> dict:
        """The `segstudio eval --json` document."""
        rows = self.total.rows()
        d = figures_dict(figures_from_rows(rows), self.labelset.names)
        d["confusion_matrix"] = [r[: self.labelset.num_classes] for r in rows]
        d["images"] = len(self.scored)
        d["missing"] = self.missing
        d["extra"] = self.extra
        d["failed"] = [{"stem": r.stem, "error": r.error} for r in self.failed]
        d["stray_ground_truth"] = [{"stem": s, "values": {str(v): n for v, n in sorted(vals.items())}}
                                   for s, vals in self.stray_gt()]
        return d

    def worst_images(self, k: int = 20) -> list[tuple[str, float]]:
        """(stem, mIoU) of the k scored images with the lowest per-image mIoU."""
        per = [(r.stem, figures_from_rows(_rows(r.matrix)).mean_iou) for r in self.scored]
        per = [(s, v) for s, v in per if not math.isnan(v)]
        return sorted(per, key=lambda x: x[1])[:k]


def _score_pair(stem: str, pred_path: Path, gt_path: Path, labelset: LabelSet) -> ImageResult:
    if labelset.num_classes <= FAST_MAX_CLASSES:
        gt = open_plain_label(gt_path)
        pred = open_plain_label(pred_path) if gt is not None else None
        if pred is not None and gt.size == pred.size:
            rows, stray = pair_counts(gt, pred, labelset)
            return ImageResult(stem, matrix=rows, stray_gt=stray)
    from .eval_arrays import score_arrays

    try:
        rows, stray = score_arrays(pred_path, gt_path, labelset)
    except SegstudioError as e:
        return ImageResult(stem, error=str(e))
    return ImageResult(stem, matrix=rows, stray_gt=stray)


def evaluate_pairs(pairs: Iterable[tuple[str, Path, Path]], labelset: LabelSet, workers: int | None = None,
                   progress: Callable[[int, int], None] | None = None,
                   cancelled: Callable[[], bool] | None = None) -> Evaluation:
    pairs = list(pairs)
    n = labelset.num_classes
    total = ConfusionCounts(n)
    results: list[ImageResult] = []
    workers = workers or min(8, 2 * (os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(_score_pair, s, p, g, labelset) for s, p, g in pairs]
        for i, fut in enumerate(futures):
            if cancelled is not None and cancelled():
                for f in futures[i:]:
                    f.cancel()
                raise Cancelled()
            r = fut.result()
            if r.matrix is not None:
                total.add_matrix(r.matrix)
            results.append(r)
            if progress is not None:
                progress(i + 1, len(pairs))
    return Evaluation(labelset=labelset, total=total, images=results)


def evaluate_folders(pred_dir: str | Path, gt_dir: str | Path, labelset: LabelSet, **kw) -> Evaluation:
    pairing = pair_folders(pred_dir, gt_dir)
    ev = evaluate_pairs(pairing.pairs, labelset, **kw)
    ev.missing, ev.extra = pairing.missing, pairing.extra
    return ev
