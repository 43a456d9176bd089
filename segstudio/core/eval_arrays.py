"""The careful path of scoring one pair of label PNGs, on NumPy arrays.

`core.label_decode` counts the plain case (8-bit P/L PNGs, at most 14
classes) with Pillow alone; every other pair comes here: any mode the label
readers accept, 16-bit predictions (values beyond 255 become 255, beyond any
class: an error), label sets of more classes, and files that cannot be read,
whose errors are worded by `core.imageio` as everywhere else in segstudio.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from .errors import ImageLoadError, ImageSizeMismatch
from .imageio import read_label_png
from .label_decode import VOC_VOID
from .labels import LabelSet
from .metrics import confusion_for


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


def stray_values(gt: np.ndarray, labelset: LabelSet) -> dict[int, int]:
    """{value: pixels} of ground-truth values that are neither a class nor the ignore index."""
    high = gt[gt >= labelset.num_classes]  # usually only the void pixels: a small array to count
    if not high.size:
        return {}
    hist = np.bincount(high.ravel(), minlength=256)
    return {v: int(hist[v]) for v in np.flatnonzero(hist).tolist() if v not in (labelset.ignore_index, VOC_VOID)}


def score_arrays(pred_path: Path, gt_path: Path, labelset: LabelSet) -> tuple[list[list[int]], dict[int, int]]:
    """(n x (n+1) confusion rows, stray ground-truth values) of one pair; SegstudioError if it cannot be scored."""
    gt = read_label_png(gt_path)
    pred = read_prediction_png(pred_path, (gt.shape[1], gt.shape[0]), gt_path)
    return confusion_for(gt, pred, labelset.num_classes).tolist(), stray_values(gt, labelset)
