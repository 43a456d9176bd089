"""Scoring a model against ground truth: predict each image that has a label PNG, accumulate one confusion matrix.

The eval dialog, `segstudio eval --model` and `models/make_release.py` all
call `evaluate_model`; the figures are those of `core.evaluate.Evaluation`
(the keys of `segstudio eval --json`), whatever produced the predictions.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable

import numpy as np

from segstudio.core.errors import SegstudioError
from segstudio.core.evaluate import Evaluation, ImageResult, stray_values
from segstudio.core.imageio import label_pngs, list_images, read_label_png
from segstudio.core.jobs import CancelFn, ProgressFn, check_cancel, report
from segstudio.core.labels import LabelSet
from segstudio.core.metrics import ConfusionMatrix

from .predictor import Predictor

LabelsFn = Callable[[Path, np.ndarray], None]


def check_labelsets_match(predictor: Predictor, labelset: LabelSet, model_name: str) -> None:
    """A model can only be scored against ground truth in its own classes."""
    if predictor.labelset.names != labelset.names:
        raise SegstudioError(
            f"{model_name} predicts {predictor.labelset.num_classes} classes "
            f"({', '.join(predictor.labelset.names[:6])}…) but the ground truth uses the label set "
            f"{labelset.name or '(custom)'} ({', '.join(labelset.names[:6])}…)")


def images_with_ground_truth(images_dir: str | Path, gt_dir: str | Path) -> tuple[list[Path], dict[str, Path]]:
    """(images that have `<stem>.png` in gt_dir, every ground-truth PNG by stem)."""
    gt_dir = Path(gt_dir)
    if not gt_dir.is_dir():
        raise SegstudioError(f"{gt_dir}: not a folder")
    if not Path(images_dir).is_dir():
        raise SegstudioError(f"{images_dir}: not a folder")
    gts = label_pngs(gt_dir)
    images = [p for p in list_images(images_dir) if p.stem in gts]
    if not images:
        raise SegstudioError(f"no image in {images_dir} has a ground-truth PNG in {gt_dir}")
    return images, gts


def evaluate_predictor(predictor: Predictor, images: list[Path], gts: dict[str, Path], labelset: LabelSet, *,
                       progress: ProgressFn | None = None, cancelled: CancelFn | None = None,
                       on_labels: LabelsFn | None = None) -> Evaluation:
    """Predict `images` and score them against `gts[stem]`; `on_labels(path, labels)` sees each prediction."""
    total = ConfusionMatrix(labelset.num_classes)
    results: list[ImageResult] = []
    stop = threading.Event()
    try:
        for i, (path, labels, error) in enumerate(predictor.predict_paths(images, cancel=stop)):
            if cancelled is not None and cancelled():
                stop.set()
            check_cancel(cancelled)
            results.append(_score(path, labels, error, gts[path.stem], total, labelset))
            if labels is not None and on_labels is not None:
                on_labels(path, labels)
            report(progress, i + 1, len(images))
    finally:
        stop.set()
    return Evaluation(labelset=labelset, total=total, images=results)


def _score(path: Path, labels: np.ndarray | None, error: str | None, gt_path: Path,
           total: ConfusionMatrix, labelset: LabelSet) -> ImageResult:
    if error is not None:
        return ImageResult(path.stem, error=error)
    try:
        gt = read_label_png(gt_path, expected_size=(labels.shape[1], labels.shape[0]), image_path=path)
    except SegstudioError as e:
        return ImageResult(path.stem, error=str(e))
    return ImageResult(path.stem, matrix=total.update(gt, labels), stray_gt=stray_values(gt, labelset))


def evaluate_model(model: str | Path | Predictor, images_dir: str | Path, gt_dir: str | Path,
                   labelset: LabelSet | None = None, *, device: str = "auto", progress: ProgressFn | None = None,
                   cancelled: CancelFn | None = None, on_labels: LabelsFn | None = None,
                   tta: str | None = None) -> Evaluation:
    """Score a model (name, checkpoint path or Predictor) on the images of `images_dir` that have ground truth.

    `labelset` is the ground truth's; it must name the model's classes (default:
    the model's own label set). Ground-truth files without an image are listed
    in `Evaluation.missing`. `tta`: the test-time augmentation of a model given by name or path
    (see Predictor.TTA_VIEWS).
    """
    if isinstance(model, Predictor):
        predictor, name = model, "the model"
    else:
        predictor, name = Predictor.from_checkpoint(model, device=device, tta=tta), Path(str(model)).name
    labelset = labelset or predictor.labelset
    check_labelsets_match(predictor, labelset, name)
    images, gts = images_with_ground_truth(images_dir, gt_dir)
    ev = evaluate_predictor(predictor, images, gts, labelset, progress=progress, cancelled=cancelled,
                            on_labels=on_labels)
    ev.missing = sorted(set(gts) - {p.stem for p in images})
    return ev
