"""Model → Train on my annotations…: train or fine-tune a network on the folder's masks.

The dialog picks the architecture (by default FCN-8s on the ImageNet-pretrained
EfficientNet-Lite0 encoder, which learns a new subject from a few dozen images in
minutes on a CPU), width, starting point (ImageNet / from scratch, or an existing model,
whose layers are partially loaded for the folder's label set), a time budget over which
the learning-rate schedule runs, epochs, image scale and a validation share, then runs
`segstudio.nets.trainer.Trainer` as a `JobRunner` job. The worker never
touches widgets: the trainer's `Progress` records (plain data) come back
through the runner; the dialog updates a live loss / validation-mIoU chart, the ETA
and a progress bar. Cancel stops the trainer between two steps. When the run
finishes, the best checkpoint is copied into the user's models folder and
`on_model_ready(path)` puts it in the Model menu, ready to predict.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
from pathlib import Path
from typing import Callable

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (QApplication, QComboBox, QDialog, QDoubleSpinBox, QFormLayout, QHBoxLayout,
                               QLabel, QLineEdit, QProgressBar, QPushButton, QSpinBox, QVBoxLayout, QWidget)

from segstudio import paths
from segstudio.core.atomic import atomic_path, atomic_write_text
from segstudio.core.errors import SegstudioError
from segstudio.core.labels import LabelSet

from .line_chart import LineChart
from .jobs import CancelFlag, JobRunner

ARCH_CHOICES = (("fcn8s-lite0", "FCN-8s on EfficientNet-Lite0 (ImageNet-pretrained, recommended)"),
                ("segnet-basic", "SegNet-Basic (small, fast)"), ("segnet", "SegNet (VGG16-BN encoder)"),
                ("fcn8s", "FCN-8s (VGG16)"), ("fcn16s", "FCN-16s"), ("fcn32s", "FCN-32s"))
# "auto": the architecture's own default (short side 360 for fcn8s-lite0, full size otherwise)
SCALES = (("auto", "automatic"), (1.0, "full size"), (0.5, "1/2"), (0.25, "1/4"))


def _default_batch(arch: str | None) -> int:
    """The batch size `segstudio train` uses for `arch` (the pretrained recipe's 8, else 4)."""
    from segstudio.nets.train_config import arch_defaults

    return int(arch_defaults(arch).get("batch_size", 4))


def _default_epochs(arch: str | None) -> int:
    """The most epochs `segstudio train` runs for `arch` (the time budget usually ends the run first)."""
    from segstudio.nets.train_config import arch_defaults

    return int(arch_defaults(arch).get("epochs", 200))


def _fmt_eta(s: float | None) -> str:
    if s is None or not math.isfinite(s):
        return "–"
    s = int(s)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def _model_taken(folder: Path, name: str) -> bool:
    return any(os.path.lexists(folder / f"{name}{suffix}") for suffix in (".safetensors", ".json"))


def free_model_name(name: str) -> str:
    """`name`, or NAME-2, NAME-3 ... when the user's models folder already holds a model (or card) of that name."""
    folder = paths.user_models_dir()
    candidate, n = name, 1
    while _model_taken(folder, candidate):
        n += 1
        candidate = f"{name}-{n}"
    return candidate


def install_model(checkpoint: Path, name: str) -> Path:
    """Copy a checkpoint's weights + card into the user's models folder; returns the weights path.

    Never replaces a model already there: when `name` is taken (say another
    studio installed one while this run trained), the model goes in as NAME-2
    (the next free name) and its card carries that name.
    """
    from segstudio.core.output_guard import refuse_existing
    from segstudio.nets.checkpoint import card_path, read_card

    dest_dir = paths.user_models_dir()
    dest_dir.mkdir(parents=True, exist_ok=True)
    name = free_model_name(name)
    dest = dest_dir / f"{name}.safetensors"
    refuse_existing([dest, card_path(dest)], what="model file")
    card = read_card(checkpoint)
    card["name"] = name
    with atomic_path(dest) as tmp:
        shutil.copyfile(checkpoint, tmp)
    atomic_write_text(card_path(dest), json.dumps(card, indent=2) + "\n")
    return dest


def _model_arch(path: str | None) -> str | None:
    """The architecture of the model a run fine-tunes (None when its card cannot be read)."""
    if not path:
        return None
    from segstudio.nets.checkpoint import read_card

    try:
        return read_card(path).get("arch")
    except SegstudioError:
        return None


def train_job(config, model_name: str):
    """The training run as a job for `JobRunner`: (TrainResult, installed model path or None)."""
    def job(progress, cancelled):
        from segstudio.nets.trainer import Trainer

        result = Trainer(config, progress=progress, cancel=CancelFlag(cancelled)).run()
        installed = None
        if result.stopped != "cancelled" and result.best_path is not None:
            installed = install_model(result.best_path, model_name)
        return result, installed

    return job


class TrainDialog(QDialog):
    """Non-modal: the studio stays usable while the model trains."""

    def __init__(self, parent: QWidget | None, images_dir: Path, masks_dir: Path, labelset: LabelSet,
                 on_model_ready: Callable[[Path], None]):
        super().__init__(parent)
        self.setWindowTitle("Train on my annotations")
        self.images_dir, self.masks_dir = Path(images_dir), Path(masks_dir)
        self.labelset = labelset
        self.on_model_ready = on_model_ready
        self.runner = JobRunner(self)
        self._running = False
        self.result = None
        self.model_path: Path | None = None
        self._requested_name = ""
        self.losses: tuple[list[float], list[float]] = ([], [])
        self.val_miou: tuple[list[float], list[float]] = ([], [])
        self._build()
        app = QApplication.instance()
        if app is not None:  # quitting the studio mid-run: stop the trainer, do not kill its thread
            app.aboutToQuit.connect(self.stop)

    # --- layout -------------------------------------------------------------------
    def _build(self) -> None:
        self.data_label = QLabel()
        self.data_label.setWordWrap(True)
        self.chart = LineChart(self, title="Training", x_label="epoch", y_label="loss", y2_label="val mIoU")
        self.chart.setMinimumSize(420, 220)
        self.bar = QProgressBar()
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        self.status = QLabel("Ready.")
        self.status.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addLayout(self._build_form())
        layout.addWidget(self.data_label)
        layout.addWidget(self.chart, 1)
        layout.addWidget(self.bar)
        layout.addWidget(self.status)
        layout.addLayout(self._build_buttons())
        self._count_annotated()

    def _build_form(self) -> QFormLayout:
        """The run's settings."""
        form = QFormLayout()
        self.arch = QComboBox()
        for key, text in ARCH_CHOICES:
            self.arch.addItem(text, key)
        self.width_spin = QDoubleSpinBox()
        self.width_spin.setRange(0.0625, 1.0)
        self.width_spin.setSingleStep(0.125)
        self.width_spin.setDecimals(3)
        self.width_spin.setValue(1.0)
        self.width_spin.setToolTip("Channel width multiplier (of the decoder for the Lite0 model): "
                                   "smaller trains faster on a CPU")
        self.arch.currentIndexChanged.connect(self._arch_changed)
        self.start_from = QComboBox()
        self.start_from.addItem("From ImageNet (pretrained encoder) / scratch", None)
        self._add_models()
        self.start_from.currentIndexChanged.connect(self._start_changed)
        self.epochs = QSpinBox()
        self.epochs.setRange(1, 10000)
        self.epochs.setValue(_default_epochs(self.arch.currentData()))
        self.epochs.setToolTip("At most this many epochs; the time budget usually ends the run first")
        self.minutes = QDoubleSpinBox()
        self.minutes.setRange(0.5, 24 * 60)
        self.minutes.setValue(5.0)
        self.minutes.setSuffix(" min")
        self.minutes.setToolTip("The learning-rate schedule runs over this time and the run ends, "
                                "finished and evaluated, within it")
        self.scale = QComboBox()
        for v, text in SCALES:
            self.scale.addItem(text, v)
        self.val_share = QSpinBox()
        self.val_share.setRange(0, 50)
        self.val_share.setSuffix(" %")
        self.batch = QSpinBox()
        self.batch.setRange(1, 64)
        self.batch.setValue(_default_batch(self.arch.currentData()))
        self.lr = QLineEdit("0.001")
        self.lr.setToolTip("AdamW learning rate (1e-3 from scratch, 1e-4 to fine-tune)")
        self.name = QLineEdit(self._default_name())
        form.addRow("Architecture", self.arch)
        form.addRow("Width", self.width_spin)
        form.addRow("Start", self.start_from)
        form.addRow("Time budget", self.minutes)
        form.addRow("Epochs (at most)", self.epochs)
        form.addRow("Image scale", self.scale)
        form.addRow("Validation share", self.val_share)
        form.addRow("Batch size", self.batch)
        form.addRow("Learning rate", self.lr)
        form.addRow("Model name", self.name)
        return form

    def _build_buttons(self) -> QHBoxLayout:
        self.start_button = QPushButton("Start")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.close_button = QPushButton("Close")
        self.start_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.close_button.clicked.connect(self.close)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for b in (self.start_button, self.cancel_button, self.close_button):
            buttons.addWidget(b)
        return buttons

    def _add_models(self) -> None:
        try:
            from segstudio.nets.checkpoint import find_models
            models = find_models()
        except Exception:  # a broken models folder must not stop training from scratch
            models = []
        for info in models:
            self.start_from.addItem(f"From model: {info.name}", str(info.path))

    def _start_changed(self) -> None:
        self._arch_enabled()
        self.lr.setText("0.0001" if self.start_from.currentData() is not None else "0.001")

    def _arch_changed(self) -> None:
        self.width_spin.setValue(1.0 if self.arch.currentData() == "fcn8s-lite0" else 0.5)
        self.batch.setValue(_default_batch(self.arch.currentData()))
        self.epochs.setValue(_default_epochs(self.arch.currentData()))

    def _arch_enabled(self) -> None:
        """Architecture and width come from the model when fine-tuning."""
        fine_tune = self.start_from.currentData() is not None
        self.arch.setEnabled(not fine_tune)
        self.width_spin.setEnabled(not fine_tune)

    def _default_name(self) -> str:
        base = re.sub(r"[^A-Za-z0-9_.-]+", "-", self.images_dir.name).strip("-") or "images"
        return free_model_name(f"{base}-{self.labelset.name or 'custom'}")

    def _count_annotated(self) -> int:
        from segstudio.nets.data import DataError, pair_folder

        try:
            n = len(pair_folder(self.images_dir, self.masks_dir)) if self.masks_dir.is_dir() else 0
        except DataError as e:
            self.data_label.setText(str(e))
            self.start_button.setEnabled(False)
            return 0
        self.data_label.setText(f"{n} annotated image(s) in {self.masks_dir}"
                                + ("" if n else ": draw or predict and correct some masks first"))
        self.start_button.setEnabled(n > 0)
        if n >= 5 and self.val_share.value() == 0:
            self.val_share.setValue(20)
        return n

    # --- running ---------------------------------------------------------------------
    def running(self) -> bool:
        """True from Start until the worker thread has finished and the dialog has caught up."""
        return self._running

    def make_config(self):
        from segstudio.nets.train_config import TrainConfig, arch_defaults

        try:
            lr = float(self.lr.text())
        except ValueError:
            raise SegstudioError(f"learning rate must be a number, got {self.lr.text()!r}") from None
        name = self.name.text().strip()
        if not name or not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
            raise SegstudioError("model name: use letters, digits, '-', '_' or '.'")
        if free_model_name(name) != name:
            raise SegstudioError(f"a model named {name} is already in {paths.user_models_dir()}; it is kept: "
                                 f"choose another name (e.g. {free_model_name(name)})")
        init = self.start_from.currentData()
        scale = self.scale.currentData()
        arch = None if init else self.arch.currentData()
        out = paths.user_data_dir() / "training" / name
        n = 1
        while out.exists():  # a cancelled earlier run of that name keeps its files
            n += 1
            out = out.with_name(f"{name}-run{n}")
        settings = dict(arch=arch, width=None if init else self.width_spin.value(),
                        init=init, name=name, images=str(self.images_dir), masks=str(self.masks_dir),
                        val_fraction=self.val_share.value() / 100, labels=self.labelset.to_dict(),
                        hflip=True, epochs=self.epochs.value(), max_minutes=self.minutes.value(),
                        batch_size=self.batch.value(), optimizer="adamw", lr=lr, weight_decay=1e-4,
                        lr_schedule="poly", out=str(out), workers=0)
        if scale != "auto":
            settings.update(scale=None if scale == 1.0 else scale, short_side=None)
        return TrainConfig().updated(arch_defaults(arch or _model_arch(init)), "architecture defaults") \
            .updated(settings, "training dialog")

    def start(self) -> None:
        if self.running():
            return
        try:
            cfg = self.make_config()
        except SegstudioError as e:
            self.status.setText(f"Cannot start: {e}")
            return
        self.result, self.model_path = None, None
        self._requested_name = cfg.name
        self.losses, self.val_miou = ([], []), ([], [])
        self.chart.clear()
        self.bar.setRange(0, 1000)
        self.bar.setValue(0)
        self.status.setText("Starting…")
        self._set_running(True)
        self.runner.start(train_job(cfg, cfg.name), on_progress=self._on_progress, on_succeeded=self._on_succeeded,
                          on_failed=lambda message, _e: self._on_failed(message),
                          on_finished=lambda: self._set_running(False))

    def cancel(self) -> None:
        if self.running():
            self.runner.cancel()
            self.status.setText("Cancelling after this step…")
            self.cancel_button.setEnabled(False)

    def _set_running(self, running: bool) -> None:
        self._running = running
        for w in (self.arch, self.width_spin, self.start_from, self.epochs, self.minutes, self.scale, self.val_share,
                  self.batch, self.lr, self.name, self.start_button):
            w.setEnabled(not running)
        if not running:
            self._arch_enabled()
        self.cancel_button.setEnabled(running)

    # --- progress (GUI thread) ---------------------------------------------------
    @Slot(object)
    def _on_progress(self, p) -> None:
        if p.kind == "status":
            self.status.setText(p.message)
        elif p.kind == "step":
            frac = (p.epoch - 1) + p.step / max(1, p.steps)
            if p.eta_s is not None and math.isfinite(p.eta_s):  # elapsed / (elapsed + ETA): time budgets too
                self.bar.setValue(int(1000 * p.elapsed_s / max(1e-9, p.elapsed_s + max(0.0, p.eta_s))))
            self.losses[0].append(frac)
            self.losses[1].append(p.loss)
            self.chart.set_series("loss", *self.losses, axis="left")
            self.status.setText(f"epoch {p.epoch}/{p.epochs} · step {p.step}/{p.steps} · loss {p.loss:.4f} · "
                                f"lr {p.lr:.2e} · {p.images_per_s:.1f} img/s · ETA {_fmt_eta(p.eta_s)}")
        elif p.kind == "epoch" and p.val and p.val.get("mean_iou") is not None:
            self.val_miou[0].append(float(p.epoch))
            self.val_miou[1].append(p.val["mean_iou"])
            self.chart.set_series("val mIoU", *self.val_miou, axis="right")

    @Slot(object)
    def _on_succeeded(self, outcome) -> None:
        self.result, self.model_path = outcome
        r = self.result
        if r.stopped == "cancelled":
            self.status.setText(f"Cancelled after {r.epochs_done} epoch(s); the last weights are in "
                                f"{r.last_path.parent}")
            return
        m = r.best_metrics or r.last_metrics
        figures = f" · val mIoU {100 * m['mean_iou']:.1f} %" if m and m.get("mean_iou") is not None else ""
        self.bar.setValue(self.bar.maximum())
        renamed = ""
        if self.model_path is not None and self.model_path.stem != self._requested_name:
            renamed = (f" (a model named {self._requested_name} appeared in {self.model_path.parent} meanwhile; "
                       "it was kept)")
        self.status.setText(f"Done ({r.stopped}, {r.epochs_done} epoch(s)){figures}. "
                            f"Model {self.model_path.stem} added to the Model menu{renamed}.")
        if self.model_path is not None:
            self.on_model_ready(self.model_path)

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self.status.setText(f"Training failed: {message}")

    def stop(self, timeout_ms: int = 60000) -> None:
        """Cancel a running job and wait for its thread (the trainer stops between two steps)."""
        if self.running():
            self.runner.stop(timeout_ms)

    def closeEvent(self, event) -> None:  # noqa: N802
        self.stop()
        super().closeEvent(event)
