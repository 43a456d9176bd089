"""File → Export → Pascal VOC… / COCO JSON…: the batch export dialog.

A thin shell over `core.voc_format.export_voc` and `core.coco_format.export_coco`:
options, a background run with a progress bar and Cancel (the library writes
into a temporary sibling and renames at the end, so a cancelled export leaves
nothing), and the library's summary at the end.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDoubleSpinBox, QFileDialog, QFormLayout,
                               QHBoxLayout, QLabel, QLineEdit, QPlainTextEdit, QProgressBar, QPushButton,
                               QSpinBox, QVBoxLayout, QWidget)

from segstudio.core.coco_format import export_coco
from segstudio.core.labels import LabelSet
from segstudio.core.voc_format import export_voc

from .batch_worker import BatchRunner

TITLES = {"voc": "Export as Pascal VOC", "coco": "Export as COCO JSON"}


class ExportDialog(QDialog):
    def __init__(self, parent: QWidget | None, images_dir: Path, masks_dir: Path, labelset: LabelSet, fmt: str):
        super().__init__(parent)
        if fmt not in TITLES:
            raise ValueError(f"fmt must be 'voc' or 'coco', not {fmt!r}")
        self.images_dir, self.masks_dir, self.labelset, self.fmt = Path(images_dir), Path(masks_dir), labelset, fmt
        self.state = "idle"  # idle, running, done, cancelled, failed
        self.summary = None
        self.runner = BatchRunner(self)
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

        self.progress_bar = QProgressBar()
        self.progress_bar.setValue(0)
        self.summary_view = QPlainTextEdit()
        self.summary_view.setReadOnly(True)
        self.summary_view.setPlaceholderText("The summary appears here when the export finishes.")
        self.start_button = QPushButton("Export")
        self.start_button.setDefault(True)
        self.start_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Close")
        self.cancel_button.clicked.connect(self._cancel_or_close)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.cancel_button)

        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.progress_bar)
        lay.addWidget(self.summary_view, 1)
        lay.addLayout(buttons)

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
        self.state = "running"
        self.summary = None
        self.summary_view.setPlainText("Exporting…")
        self.progress_bar.setRange(0, 0)
        self.start_button.setEnabled(False)
        self.cancel_button.setText("Cancel")
        worker = self.runner.start(self._job())
        worker.progress.connect(self._on_progress)
        worker.succeeded.connect(self._on_done)
        worker.failed.connect(self._on_failed)
        worker.cancelled.connect(self._on_cancelled)

    def _on_progress(self, i: int, n: int) -> None:
        self.progress_bar.setRange(0, max(1, n))
        self.progress_bar.setValue(i)

    def _finish(self, state: str, text: str) -> None:
        self.state = state
        self.summary_view.setPlainText(text)
        self.start_button.setEnabled(True)
        self.start_button.setText("Export again" if state == "done" else "Export")
        self.cancel_button.setText("Close")
        self.cancel_button.setEnabled(True)
        if self.progress_bar.maximum() == 0:
            self.progress_bar.setRange(0, 1)

    def _on_done(self, summary) -> None:
        self.summary = summary
        self.progress_bar.setValue(self.progress_bar.maximum())
        self._finish("done", "\n".join(summary.lines()))

    def _on_failed(self, message: str, _exc) -> None:
        self._finish("failed", f"Export failed; nothing was written.\n\n{message}")

    def _on_cancelled(self) -> None:
        self.progress_bar.setValue(0)
        self._finish("cancelled", "Export cancelled; nothing was written.")

    def _cancel_or_close(self) -> None:
        if self.state == "running":
            self.cancel_button.setEnabled(False)
            self.cancel_button.setText("Cancelling…")
            self.runner.cancel()
        else:
            self.accept() if self.state == "done" else self.reject()

    def done(self, code: int) -> None:  # noqa: D401 (Qt API) - also called on Esc / window close
        if self.runner.running():
            self.runner.cancel()
            self.runner.stop()
        super().done(code)

    def closeEvent(self, event) -> None:  # noqa: N802
        self.runner.stop()
        super().closeEvent(event)
