"""File → Export → Pascal VOC… / COCO JSON…: the batch export dialog.

A thin shell over `core.formats.voc.export_voc` and `core.formats.coco.export_coco`:
options, a background run with a progress bar and Cancel (the library writes
into a temporary sibling and renames at the end, so a cancelled export leaves
nothing), and the library's summary at the end.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFileDialog, QFormLayout, QHBoxLayout,
                               QLabel, QLineEdit, QPushButton, QSpinBox, QWidget)

from segstudio.core.formats.coco import export_coco
from segstudio.core.labels import LabelSet
from segstudio.core.formats.voc import export_voc

from .batch_dialog import BatchJobDialog

TITLES = {"voc": "Export as Pascal VOC", "coco": "Export as COCO JSON"}


class ExportDialog(BatchJobDialog):
    verb = "Export"
    running_text = "Exporting…"
    failed_text = "Export failed; nothing was written."
    cancelled_text = "Export cancelled; nothing was written."

    def __init__(self, parent: QWidget | None, images_dir: Path, masks_dir: Path, labelset: LabelSet, fmt: str):
        if fmt not in TITLES:
            raise ValueError(f"fmt must be 'voc' or 'coco', not {fmt!r}")
        super().__init__(parent)
        self.images_dir, self.masks_dir, self.labelset, self.fmt = Path(images_dir), Path(masks_dir), labelset, fmt
        self.setWindowTitle(TITLES[fmt])
        self.setMinimumWidth(560)

        form = QFormLayout()
        form.addRow("Images:", QLabel(str(self.images_dir)))
        form.addRow("Masks:", QLabel(str(self.masks_dir)))
        form.addRow("Label set:", QLabel(f"{labelset.name or 'custom'} ({labelset.num_classes} classes)"))
        self.out_edit = QLineEdit(str(self._default_output()))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.out_edit, 1)
        row.addWidget(browse)
        form.addRow("Output folder:" if fmt == "voc" else "Output file:", row)
        if fmt == "voc":
            self.val_spin = QDoubleSpinBox()
            self.val_spin.setRange(0.0, 100.0)
            self.val_spin.setSuffix(" %")
            self.val_spin.setValue(20.0)
            self.seed_spin = QSpinBox()
            self.seed_spin.setRange(0, 2 ** 31 - 1)
            self.visualize_check = QCheckBox("Also write colour overlays (SegmentationClassVisualization/)")
            form.addRow("Validation share:", self.val_spin)
            form.addRow("Split seed:", self.seed_spin)
            form.addRow("", self.visualize_check)
        else:
            self.seg_combo = QComboBox()
            self.seg_combo.addItem("RLE, one per class per image (lossless)", "rle")
            self.seg_combo.addItem("Polygons, one per connected component (holes kept as RLE)", "polygon")
            form.addRow("Segmentation:", self.seg_combo)
        self.overwrite_check = QCheckBox("Replace the output if it exists")
        form.addRow("", self.overwrite_check)

        self.summary_view.setPlaceholderText("The summary appears here when the export finishes.")
        self._lay_out(form)

    def _default_output(self) -> Path:
        base = self.images_dir.parent / f"{self.images_dir.name}-{'voc' if self.fmt == 'voc' else 'coco'}"
        return base if self.fmt == "voc" else base.with_suffix(".json")

    def _browse(self) -> None:
        if self.fmt == "voc":
            path = QFileDialog.getExistingDirectory(self, "Output folder", self.out_edit.text())
        else:
            path, _ = QFileDialog.getSaveFileName(self, "Output file", self.out_edit.text(), "COCO JSON (*.json)")
        if path:
            self.out_edit.setText(path)

    def _job(self):
        out = Path(self.out_edit.text().strip()).expanduser()
        common = dict(overwrite=self.overwrite_check.isChecked())
        if self.fmt == "voc":
            val, seed, vis = self.val_spin.value() / 100.0, self.seed_spin.value(), self.visualize_check.isChecked()
            return lambda progress, cancelled: export_voc(
                self.images_dir, self.masks_dir, self.labelset, out, val_fraction=val, seed=seed,
                visualize=vis, progress=progress, cancelled=cancelled, **common)
        mode = self.seg_combo.currentData()
        return lambda progress, cancelled: export_coco(
            self.images_dir, self.masks_dir, self.labelset, out, segmentation=mode,
            progress=progress, cancelled=cancelled, **common)

    def start(self) -> None:
        if self.state == "running" or self.runner.running():
            return
        if not self.out_edit.text().strip():
            self.summary_view.setPlainText("Choose where to write the export.")
            return
        self._run(self._job())
