"""Main-window part: ground truth at a glance.

A ground-truth folder (View > Ground Truth Folder…, remembered per image
folder) holds label PNGs named like the images. The canvas can show the GT
instead of the working mask and highlight disagreeing pixels; the status bar
shows this image's pixel accuracy and mIoU against it, refreshed after edits.
Mixed into MainWindow.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog

from segstudio.core.errors import SegstudioError
from segstudio.core.imageio import read_label_png
from segstudio.core.metrics import confusion_for, scores_from_matrix


class GroundTruthMixin:
    # -------------------------------------------------------------- ground truth
    def choose_gt_dir(self) -> None:
        start = str(self.gt_dir or (self.project.images_dir if self.project else Path.home()))
        d = QFileDialog.getExistingDirectory(self, "Ground-truth folder", start)
        if d:
            self.set_gt_dir(Path(d))

    def set_gt_dir(self, folder: Path | None) -> None:
        self.gt_dir = Path(folder) if folder else None
        if self.project is not None:
            self.settings.setValue(f"gt/{self.project.images_dir}", str(folder or ""))
        self._load_gt()

    def _load_gt(self) -> None:
        gt = None
        if self.gt_dir is not None and self.current is not None:
            p = self.gt_dir / (self.current.path.stem + ".png")
            if p.is_file():
                try:
                    w, h = self.canvas.image_size()
                    gt = read_label_png(p, expected_size=(w, h), image_path=self.current.path)
                except SegstudioError as e:
                    self.statusBar().showMessage(str(e), 8000)
                    self.problems.append(str(e))
        self.canvas.set_gt(gt)
        self._update_metrics()

    def _toggle_show_gt(self, on: bool) -> None:
        self.canvas.set_show_gt(on)
        if on and self.canvas.gt is None:
            self.statusBar().showMessage("No ground truth for this image (View > Ground Truth Folder…)", 5000)

    def _toggle_disagreement(self, on: bool) -> None:
        self.canvas.set_show_disagreement(on)

    def gt_scores(self):
        """(pixel accuracy, mIoU, share of GT pixels still unlabelled) of the current mask, or None."""
        gt, lab = self.canvas.gt, self.canvas.labels
        if gt is None or lab is None or self.project is None:
            return None
        s = scores_from_matrix(confusion_for(gt, lab, self.project.labelset.num_classes))
        total = int(s.gt_pixels.sum())
        return s.pixel_accuracy, s.mean_iou, (s.invalid_predictions / total if total else 0.0)

    def _update_metrics(self) -> None:
        s = self.gt_scores()
        if s is None:
            text = ""
        elif s[2] >= 1.0:
            text = "vs GT: nothing labelled yet"
        else:
            # Unlabelled pixels count as errors, as in segstudio eval; say how many there are.
            text = f"vs GT: acc {s[0] * 100:.1f}%  mIoU {s[1] * 100:.1f}%"
            if s[2] > 0:
                text += f"  ({s[2] * 100:.1f}% unlabelled)"
        self.metrics_label.setText(text)
