"""Scoring a folder of predicted label PNGs against a folder of ground truth.

Files are paired by stem; missing, extra, unreadable and size-mismatched
pairs are reported by name. Decoding and per-image accumulation run on a
thread pool (Pillow and OpenCV release the GIL while they work).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from .errors import SegstudioError
from .imageio import label_pngs, read_label_png
from .labels import LabelSet
from .metrics import ConfusionMatrix, Scores, confusion_for, scores_from_matrix


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


@dataclass
class ImageResult:
    stem: str
    matrix: np.ndarray | None = None
    error: str | None = None

    def scores(self) -> Scores | None:
        return None if self.matrix is None else scores_from_matrix(self.matrix)


@dataclass
class Evaluation:
    labelset: LabelSet
    total: ConfusionMatrix
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

    def report(self) -> dict:
        """The `segstudio eval --json` document."""
        d = self.scores().to_dict(self.labelset.names)
        d["confusion_matrix"] = self.total.confusion.tolist()
        d["images"] = len(self.scored)
        d["missing"] = self.missing
        d["extra"] = self.extra
        d["failed"] = [{"stem": r.stem, "error": r.error} for r in self.failed]
        return d

    def worst_images(self, k: int = 20) -> list[tuple[str, float]]:
        """(stem, mIoU) of the k scored images with the lowest per-image mIoU."""
        per = [(r.stem, r.scores().mean_iou) for r in self.scored]
        per = [(s, v) for s, v in per if not np.isnan(v)]
        return sorted(per, key=lambda x: x[1])[:k]


def _score_pair(stem: str, pred_path: Path, gt_path: Path, n: int) -> ImageResult:
    try:
        gt = read_label_png(gt_path)
        pred = read_label_png(pred_path, expected_size=(gt.shape[1], gt.shape[0]), image_path=gt_path)
    except SegstudioError as e:
        return ImageResult(stem, error=str(e))
    return ImageResult(stem, matrix=confusion_for(gt, pred, n))


def evaluate_pairs(pairs: Iterable[tuple[str, Path, Path]], labelset: LabelSet, workers: int | None = None,
                   progress: Callable[[int, int], None] | None = None,
                   cancelled: Callable[[], bool] | None = None) -> Evaluation:
    pairs = list(pairs)
    n = labelset.num_classes
    total = ConfusionMatrix(n)
    results: list[ImageResult] = []
    workers = workers or min(8, 2 * (os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(_score_pair, s, p, g, n) for s, p, g in pairs]
        for i, fut in enumerate(futures):
            if cancelled is not None and cancelled():
                for f in futures[i:]:
                    f.cancel()
                break
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
