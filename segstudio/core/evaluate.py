"""Scoring a folder of predicted label PNGs against a folder of ground truth.

Files are paired by stem; missing, extra, unreadable and size-mismatched
pairs are reported by name. Decoding and per-image accumulation run on a
thread pool (Pillow and OpenCV release the GIL while they work).

Values are never dropped in silence: ground-truth pixels that are neither a
class nor void (the ignore index, or 255) - e.g. 200 in an 11-class set - are not scored but
counted per file (`ImageResult.stray_gt`, `Evaluation.stray_gt()`, the
report's "stray_ground_truth"). Predictions may be 16-bit PNGs: their values
are well defined, and any value beyond the classes is scored as an error.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
from PIL import Image

from .errors import ImageLoadError, ImageSizeMismatch, SegstudioError
from .imageio import label_pngs, read_label_png
from .jobs import Cancelled
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
    stray_gt: dict[int, int] = field(default_factory=dict)  # GT value outside the label set -> pixels

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
        d = self.scores().to_dict(self.labelset.names)
        d["confusion_matrix"] = self.total.confusion.tolist()
        d["images"] = len(self.scored)
        d["missing"] = self.missing
        d["extra"] = self.extra
        d["failed"] = [{"stem": r.stem, "error": r.error} for r in self.failed]
        d["stray_ground_truth"] = [{"stem": s, "values": {str(v): n for v, n in sorted(vals.items())}}
                                   for s, vals in self.stray_gt()]
        return d

    def worst_images(self, k: int = 20) -> list[tuple[str, float]]:
        """(stem, mIoU) of the k scored images with the lowest per-image mIoU."""
        per = [(r.stem, r.scores().mean_iou) for r in self.scored]
        per = [(s, v) for s, v in per if not np.isnan(v)]
        return sorted(per, key=lambda x: x[1])[:k]


def read_prediction_png(path: Path, expected_size: tuple[int, int], gt_path: Path) -> np.ndarray:
    """A predicted label PNG as uint8; 16-bit values beyond 255 become 255 (beyond any class: an error)."""
    try:
        with Image.open(path) as img:
            wide = img.mode in ("I;16", "I;16L", "I;16B", "I")
            if wide:
                img.load()
                a = np.asarray(img)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise ImageLoadError(f"{path}: cannot read ({e})") from None
    if not wide:
        return read_label_png(path, expected_size=expected_size, image_path=gt_path)
    if (a.shape[1], a.shape[0]) != tuple(expected_size):
        raise ImageSizeMismatch(f"{path}: label map is {a.shape[1]}x{a.shape[0]} but the ground truth "
                                f"{gt_path} is {expected_size[0]}x{expected_size[1]}")
    return np.clip(a, 0, 255).astype(np.uint8)


VOC_VOID = 255  # void in every VOC-style mask, whatever the label set's own ignore index


def stray_values(gt: np.ndarray, labelset: LabelSet) -> dict[int, int]:
    """{value: pixels} of ground-truth values that are neither a class nor the ignore index."""
    high = gt[gt >= labelset.num_classes]  # usually only the void pixels: a small array to count
    if not high.size:
        return {}
    hist = np.bincount(high.ravel(), minlength=256)
    return {v: int(hist[v]) for v in np.flatnonzero(hist).tolist() if v not in (labelset.ignore_index, VOC_VOID)}


def _score_pair(stem: str, pred_path: Path, gt_path: Path, labelset: LabelSet) -> ImageResult:
    try:
        gt = read_label_png(gt_path)
        pred = read_prediction_png(pred_path, (gt.shape[1], gt.shape[0]), gt_path)
    except SegstudioError as e:
        return ImageResult(stem, error=str(e))
    return ImageResult(stem, matrix=confusion_for(gt, pred, labelset.num_classes),
                       stray_gt=stray_values(gt, labelset))


def evaluate_pairs(pairs: Iterable[tuple[str, Path, Path]], labelset: LabelSet, workers: int | None = None,
                   progress: Callable[[int, int], None] | None = None,
                   cancelled: Callable[[], bool] | None = None) -> Evaluation:
    pairs = list(pairs)
    n = labelset.num_classes
    total = ConfusionMatrix(n)
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
