"""Tools → Evaluate against ground truth…: mIoU of the working masks or of a model.

Scores a folder of ground-truth label PNGs against either the working masks
(`core.evaluate.evaluate_folders`, the same code as `segstudio eval`) or a
model's predictions on the images (`nets.evaluation.evaluate_model`), on a worker
thread. Shows the headline figures, a per-class table, a per-class IoU bar
chart, the row-normalised confusion matrix and the worst images by mIoU
(double-click one to open it). The report saves as JSON (the keys of
`segstudio eval --json`), CSV and PNG charts.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Callable

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QAbstractItemView, QButtonGroup, QDialog, QFileDialog, QFormLayout, QFrame,
                               QGridLayout, QHBoxLayout, QHeaderView, QLabel, QLineEdit, QProgressBar, QPushButton,
                               QRadioButton, QSplitter, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from segstudio.core.atomic import atomic_write_text
from segstudio.core.evaluate import Evaluation, evaluate_folders
from segstudio.core.labels import LabelSet

from .jobs import JobRunner
from .charts import BarChart, HeatmapChart

HEADLINES = (("pixel_accuracy", "Pixel accuracy"), ("mean_accuracy", "Mean accuracy"),
             ("mean_iou", "Mean IoU"), ("fw_iou", "Freq.-weighted IoU"))


def pct(v) -> str:
    return "–" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{100 * v:.2f} %"


def report_csv(report: dict) -> str:
    """Per-class rows plus the headline figures, as CSV text."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["class", "iou", "accuracy", "gt_pixels", "pred_pixels"])
    for c in report["per_class"]:
        w.writerow([c["name"], "" if c["iou"] is None else c["iou"], "" if c["accuracy"] is None else c["accuracy"],
                    c["gt_pixels"], c["pred_pixels"]])
    w.writerow([])
    w.writerow(["metric", "value"])
    for key, _ in HEADLINES:
        w.writerow([key, "" if report.get(key) is None else report[key]])
    w.writerow(["images", report["images"]])
    return buf.getvalue()


class EvalDialog(QDialog):
    def __init__(self, parent: QWidget | None, images_dir: Path, masks_dir: Path, labelset: LabelSet,
                 gt_dir: Path | None, model_path: Path | None, open_image: Callable[[str], None]):
        super().__init__(parent)
        self.images_dir, self.masks_dir, self.labelset = Path(images_dir), Path(masks_dir), labelset
        self.model_path = Path(model_path) if model_path else None
        self.open_image = open_image
        self.evaluation: Evaluation | None = None
        self.report: dict | None = None
        self.state = "idle"
        self.runner = JobRunner(self)
        self.setWindowTitle("Evaluate against ground truth")
        self.resize(1180, 820)
        lay = QVBoxLayout(self)
        lay.addLayout(self._build_inputs(gt_dir))
        lay.addLayout(self._build_run_row())
        lay.addWidget(self.status_label)
        lay.addWidget(self._build_headline())
        lay.addWidget(self._build_body(), 1)
        lay.addLayout(self._build_saves())

    def _build_inputs(self, gt_dir: Path | None) -> QFormLayout:
        """What to score: the ground-truth folder, the working masks or the model."""
        form = QFormLayout()
        self.gt_edit = QLineEdit(str(gt_dir) if gt_dir else "")
        self.gt_edit.setPlaceholderText("folder of ground-truth label PNGs (<image stem>.png)")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse_gt)
        row = QHBoxLayout()
        row.addWidget(self.gt_edit, 1)
        row.addWidget(browse)
        form.addRow("Ground truth:", row)
        self.masks_radio = QRadioButton(f"Working masks ({self.masks_dir})")
        self.model_radio = QRadioButton(f"Predictions of model {self.model_path.stem}" if self.model_path
                                        else "Predictions of a model (no model selected)")
        self.model_radio.setEnabled(self.model_path is not None)
        self.masks_radio.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.masks_radio)
        group.addButton(self.model_radio)
        src = QHBoxLayout()
        src.addWidget(self.masks_radio)
        src.addWidget(self.model_radio)
        src.addStretch(1)
        form.addRow("Score:", src)
        return form

    def _build_run_row(self) -> QHBoxLayout:
        self.run_button = QPushButton("Evaluate")
        self.run_button.setDefault(True)
        self.run_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.runner.cancel)
        self.progress_bar = QProgressBar()
        self.status_label = QLabel("")
        self.status_label.setWordWrap(True)
        run_row = QHBoxLayout()
        run_row.addWidget(self.run_button)
        run_row.addWidget(self.cancel_button)
        run_row.addWidget(self.progress_bar, 1)
        return run_row

    def _build_headline(self) -> QFrame:
        self.headline: dict[str, QLabel] = {}
        heads = QGridLayout()
        for col, (key, title) in enumerate(HEADLINES + (("images", "Images scored"),)):
            t = QLabel(title)
            t.setAlignment(Qt.AlignmentFlag.AlignCenter)
            v = QLabel("–")
            v.setAlignment(Qt.AlignmentFlag.AlignCenter)
            f = v.font()
            f.setPointSizeF(f.pointSizeF() * 1.7)
            f.setBold(True)
            v.setFont(f)
            heads.addWidget(v, 0, col)
            heads.addWidget(t, 1, col)
            self.headline[key] = v
        head_frame = QFrame()
        head_frame.setFrameShape(QFrame.Shape.StyledPanel)
        head_frame.setLayout(heads)
        return head_frame

    def _build_body(self) -> QSplitter:
        """Per-class table and worst images on the left, IoU bars and confusion heatmap on the right."""
        self.class_table = QTableWidget(0, 5)
        self.class_table.setHorizontalHeaderLabels(["Class", "IoU", "Accuracy", "GT pixels", "Predicted pixels"])
        self.class_table.verticalHeader().setVisible(False)
        self.class_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.class_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.class_table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.worst_table = QTableWidget(0, 2)
        self.worst_table.setHorizontalHeaderLabels(["Worst images (double-click opens)", "mIoU"])
        self.worst_table.verticalHeader().setVisible(False)
        self.worst_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.worst_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.worst_table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.worst_table.cellDoubleClicked.connect(self._open_worst)
        self.iou_chart = BarChart(title="IoU per class")
        self.confusion_chart = HeatmapChart(title="Confusion matrix (rows: ground truth, normalised)")
        left = QSplitter(Qt.Orientation.Vertical)
        left.addWidget(self.class_table)
        left.addWidget(self.worst_table)
        left.setSizes([420, 260])
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.iou_chart)
        right.addWidget(self.confusion_chart)
        right.setSizes([300, 440])
        body = QSplitter(Qt.Orientation.Horizontal)
        body.addWidget(left)
        body.addWidget(right)
        body.setSizes([470, 700])
        return body

    def _build_saves(self) -> QHBoxLayout:
        self.save_json_button = QPushButton("Save JSON…")
        self.save_csv_button = QPushButton("Save CSV…")
        self.save_png_button = QPushButton("Save charts (PNG)…")
        for b, fn in ((self.save_json_button, self._ask_json), (self.save_csv_button, self._ask_csv),
                      (self.save_png_button, self._ask_png)):
            b.setEnabled(False)
            b.clicked.connect(fn)
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        saves = QHBoxLayout()
        for b in (self.save_json_button, self.save_csv_button, self.save_png_button):
            saves.addWidget(b)
        saves.addStretch(1)
        saves.addWidget(close)
        return saves

    # --- running --------------------------------------------------------------------------
    def _browse_gt(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Ground-truth folder", self.gt_edit.text() or str(self.images_dir))
        if path:
            self.gt_edit.setText(path)

    def start(self) -> None:
        if self.state == "running" or self.runner.running():
            return
        gt = self.gt_edit.text().strip()
        if not gt:
            self.status_label.setText("Choose the folder of ground-truth label PNGs.")
            return
        gt_dir, ls = Path(gt).expanduser(), self.labelset
        if self.model_radio.isChecked() and self.model_path is not None:
            model, images = self.model_path, self.images_dir

            def job(progress, cancelled):
                from segstudio.nets.evaluation import evaluate_model  # torch loads only when a model is scored

                return evaluate_model(model, images, gt_dir, ls, progress=progress, cancelled=cancelled)
            what = f"predictions of {model.stem}"
        else:
            masks = self.masks_dir
            job = lambda progress, cancelled: evaluate_folders(masks, gt_dir, ls, progress=progress,  # noqa: E731
                                                               cancelled=cancelled)
            what = "working masks"
        self.state = "running"
        self.status_label.setText(f"Scoring the {what} against {gt_dir}…")
        self.progress_bar.setRange(0, 0)
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.runner.start(job, on_progress=self._on_progress, on_succeeded=self._on_done,
                          on_failed=lambda msg, _e: self._finish("failed", f"Evaluation failed: {msg}"),
                          on_cancelled=lambda: self._finish("cancelled", "Evaluation cancelled."))

    def _on_progress(self, i: int, n: int) -> None:
        self.progress_bar.setRange(0, max(1, n))
        self.progress_bar.setValue(i)

    def _finish(self, state: str, text: str) -> None:
        self.state = state
        self.status_label.setText(text)
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        if self.progress_bar.maximum() == 0:
            self.progress_bar.setRange(0, 1)

    def _on_done(self, ev: Evaluation) -> None:
        if not ev.scored:
            problems = "; ".join(r.error for r in ev.failed[:3]) or "no image has both a mask and a ground truth"
            self._finish("failed", f"Nothing could be scored: {problems}")
            return
        self.show_evaluation(ev)
        notes = [f"{len(ev.scored)} image(s) scored."]
        if ev.missing:
            notes.append(f"{len(ev.missing)} ground-truth file(s) have no mask / prediction (not scored).")
        if ev.failed:
            notes.append(f"{len(ev.failed)} image(s) failed: " + "; ".join(r.error for r in ev.failed[:3]))
        stray = ev.stray_lines()  # ground-truth values that are neither a class nor void: never silent
        if stray:
            notes.append(f"{len(stray)} ground-truth file(s) hold values outside the label set (not scored): "
                         + "; ".join(stray[:3]))
        if self.report.get("invalid_predictions"):
            notes.append(f"{self.report['invalid_predictions']:,} predicted pixels are outside the class range.")
        self._finish("done", " ".join(notes))

    # --- showing ----------------------------------------------------------------------------
    def show_evaluation(self, ev: Evaluation) -> None:
        self.evaluation = ev
        self.report = rep = ev.report()
        for key, _ in HEADLINES:
            self.headline[key].setText(pct(rep[key]))
        self.headline["images"].setText(str(rep["images"]))
        per = rep["per_class"]
        self.class_table.setRowCount(len(per))
        for i, c in enumerate(per):
            cells = [c["name"], pct(c["iou"]), pct(c["accuracy"]), f"{c['gt_pixels']:,}", f"{c['pred_pixels']:,}"]
            for j, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if j:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.class_table.setItem(i, j, item)
        self.iou_chart.set_data([c["name"] for c in per], [c["iou"] for c in per], colors=self.labelset.colors)
        conf = np.asarray(rep["confusion_matrix"], dtype=np.int64)[:, : self.labelset.num_classes]
        self.confusion_chart.set_matrix(conf, list(self.labelset.names))
        worst = ev.worst_images(25)
        self.worst_table.setRowCount(len(worst))
        for i, (stem, miou) in enumerate(worst):
            self.worst_table.setItem(i, 0, QTableWidgetItem(stem))
            item = QTableWidgetItem(pct(miou))
            item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.worst_table.setItem(i, 1, item)
        for b in (self.save_json_button, self.save_csv_button, self.save_png_button):
            b.setEnabled(True)

    def _open_worst(self, row: int, _col: int) -> None:
        item = self.worst_table.item(row, 0)
        if item is not None and self.open_image is not None:
            self.open_image(item.text())

    # --- saving -----------------------------------------------------------------------------
    def save_json(self, path: str | Path) -> Path:
        atomic_write_text(path, json.dumps(self.report, indent=2) + "\n")
        return Path(path)

    def save_csv(self, path: str | Path) -> Path:
        atomic_write_text(path, report_csv(self.report))
        return Path(path)

    def save_charts(self, path: str | Path) -> list[Path]:
        """`<stem>-iou.png` and `<stem>-confusion.png` beside `path`."""
        path = Path(path)
        stem = path.with_suffix("") if path.suffix.lower() == ".png" else path
        return [self.iou_chart.save_png(f"{stem}-iou.png"),
                self.confusion_chart.save_png(f"{stem}-confusion.png")]

    def _ask(self, title: str, name: str, filt: str) -> str:
        start = str(self.masks_dir.parent / name)
        path, _ = QFileDialog.getSaveFileName(self, title, start, filt)
        return path

    def _saved(self, what) -> None:
        self.status_label.setText(f"Saved {', '.join(str(p) for p in (what if isinstance(what, list) else [what]))}")

    def _ask_json(self) -> None:
        if path := self._ask("Save report as JSON", "evaluation.json", "JSON (*.json)"):
            self._saved(self.save_json(path))

    def _ask_csv(self) -> None:
        if path := self._ask("Save report as CSV", "evaluation.csv", "CSV (*.csv)"):
            self._saved(self.save_csv(path))

    def _ask_png(self) -> None:
        if path := self._ask("Save charts as PNG", "evaluation.png", "PNG (*.png)"):
            self._saved(self.save_charts(path))

    def closeEvent(self, event) -> None:  # noqa: N802
        self.runner.stop()
        super().closeEvent(event)
