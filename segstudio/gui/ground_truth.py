"""Ground truth at a glance, as a controller: the GT folder, the GT of the shown image, its scores.

A ground-truth folder (View > Ground Truth Folder…, remembered per image
folder in the settings) holds label PNGs named like the images. The window
shows the GT instead of the working mask or highlights disagreeing pixels on
the canvas; the status bar shows this image's pixel accuracy and mIoU against
it, from `status_text`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QSettings, Signal

from segstudio.core.errors import SegstudioError

if TYPE_CHECKING:  # numpy and OpenCV (core.metrics) load when ground truth is first used
    import numpy as np


class GroundTruthController(QObject):
    message = Signal(str)  # a GT file could not be read

    def __init__(self, settings: QSettings, parent: QObject | None = None):
        super().__init__(parent)
        self.settings = settings
        self.folder: Path | None = None

    def restore(self, images_dir: Path) -> None:
        """The folder remembered for `images_dir`, else its `ground-truth/` subfolder, else none."""
        remembered = self.settings.value(f"gt/{images_dir}", "", str)
        if remembered and Path(remembered).is_dir():
            self.folder = Path(remembered)
        elif (images_dir / "ground-truth").is_dir():
            self.folder = images_dir / "ground-truth"
        else:
            self.folder = None

    def set_folder(self, images_dir: Path | None, folder: Path | None) -> None:
        self.folder = Path(folder) if folder else None
        if images_dir is not None:
            self.settings.setValue(f"gt/{images_dir}", str(folder or ""))

    def load(self, image: Path, size: tuple[int, int]) -> np.ndarray | None:
        """The GT label map of `image` ((w, h) = size), or None if there is none or it is unreadable."""
        if self.folder is None:
            return None
        p = self.folder / (Path(image).stem + ".png")
        if not p.is_file():
            return None
        from segstudio.core.imageio import read_label_png

        try:
            return read_label_png(p, expected_size=size, image_path=image)
        except SegstudioError as e:
            self.message.emit(str(e))
            return None


def gt_scores(gt: np.ndarray | None, labels: np.ndarray | None, num_classes: int):
    """(pixel accuracy, mIoU, share of GT pixels still unlabelled) of `labels` against `gt`, or None."""
    if gt is None or labels is None:
        return None
    from segstudio.core.metrics import confusion_for, scores_from_matrix

    s = scores_from_matrix(confusion_for(gt, labels, num_classes))
    total = int(s.gt_pixels.sum())
    return s.pixel_accuracy, s.mean_iou, (s.invalid_predictions / total if total else 0.0)


def status_text(scores) -> str:
    """The status-bar text for `gt_scores`' result."""
    if scores is None:
        return ""
    if scores[2] >= 1.0:
        return "vs GT: nothing labelled yet"
    # Unlabelled pixels count as errors, as in segstudio eval; say how many there are.
    text = f"vs GT: acc {scores[0] * 100:.1f}%  mIoU {scores[1] * 100:.1f}%"
    if scores[2] > 0:
        text += f"  ({scores[2] * 100:.1f}% unlabelled)"
    return text
