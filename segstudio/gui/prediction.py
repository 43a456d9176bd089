"""The studio's models and prediction, as a controller the main window wires to its menus.

`PredictionController` finds the installed models (a job: importing torch
takes seconds), keeps the selected checkpoint and runs prediction jobs on a
`JobRunner`. It knows nothing of documents or widgets: results come out as
signals (`imagePredicted(path, labels)`, `imageFailed(path, message)`), and
the window decides how to apply them (one undo step for an open image, straight
to disk for one never opened).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from .jobs import CancelFlag, JobRunner

if TYPE_CHECKING:
    from segstudio.core.labels import LabelSet


class ModelCache:
    """The last loaded predictor, reused while the same model is selected (thread-safe)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.path: Path | None = None
        self.predictor = None
        self.scale: float | None = None  # the Prediction Scale setting: None = the model's training scale
        self.tta: str | None = None  # the Test-Time Augmentation setting (Predictor.tta)
        self.on_message = None  # the predictor's notes (a bounded working scale, ...), called on the worker

    def get(self, path: Path):
        from segstudio.nets.predictor import Predictor

        with self.lock:
            if self.predictor is None or self.path != path:
                self.predictor = None
                self.predictor = Predictor.from_checkpoint(str(path), on_message=self.on_message)
                self.path = path
            self.predictor.scale = self.scale
            self.predictor.tta = self.tta
            return self.predictor


def scan_job(progress, cancelled):
    """([(name, weights path)], default model path or None) of the installed models."""
    from segstudio.nets.checkpoint import default_model, find_models

    models = [(m.name, Path(m.path)) for m in find_models()]
    d = default_model()
    return models, (Path(d.path) if d else None)


def _store_confidence(masks_dir: Path | None, path: Path, conf):
    """On the worker: save the uint8 confidence of `path` beside its mask (or drop a stale one when
    the predictor gave none); returns the uint8 map or None."""
    from segstudio.core.assist.confidence_store import confidence_path, save_confidence, to_uint8

    conf = None if conf is None else to_uint8(conf)
    if masks_dir is not None:
        try:
            if conf is None:
                confidence_path(masks_dir, Path(path).stem).unlink(missing_ok=True)
            else:
                save_confidence(masks_dir, Path(path).stem, conf)
        except OSError as e:
            return conf, f"Confidence not saved: {e}"
    return conf, None


def predict_job(cache: ModelCache, model_path: Path, images: list[Path], single: bool,
                masks_dir: Path | None = None, shown=lambda: None):
    """Predict `images`; reports ("status", done, total, text), ("image", path, labels), ("confidence", path,
    HxW uint8 softmax margin) after its image when it is `shown()` (the others' maps are only saved, here,
    under `masks_dir`), ("failed", path, text)."""
    def job(progress, cancelled):
        flag = CancelFlag(cancelled)
        progress("status", 0, 0, f"loading model {model_path.name}")
        predictor = cache.get(model_path)
        if single:
            from segstudio.core.imageio import load_image

            path = images[0]
            # d of n tiles, or of the test-time views
            labels, conf = predictor.predict_confidence(
                load_image(path), flag, lambda d, n: progress("status", d, n, f"{path.name}: {d}/{n}"))
            results = [(path, (labels, conf), None)]
        else:
            progress("status", 0, len(images), "predicting")
            results = predictor.predict_paths(images, cancel=flag, confidence=True)
        for done, (path, result, error) in enumerate(results, 1):
            if error is not None:
                progress("failed", path, error)
            else:
                conf, problem = _store_confidence(masks_dir, path, result[1])
                progress("image", path, result[0])
                if problem:
                    progress("note", problem)
                if conf is not None and Path(path) == shown():
                    progress("confidence", path, conf)
            if not single:
                progress("status", done, len(images), Path(path).name)
    return job


class PredictionController(QObject):
    modelsChanged = Signal()               # the model list or the selection changed
    busyChanged = Signal(bool)             # a prediction started / ended
    progress = Signal(int, int, str)       # done, total (0: unknown), what
    imagePredicted = Signal(object, object)  # image path, HxW uint8 labels
    confidenceReady = Signal(object, object)  # image path, HxW uint8 confidence (after imagePredicted)
    imageFailed = Signal(object, str)      # image path, message
    failed = Signal(str)                   # the run failed (model could not be loaded, ...)
    finished = Signal(bool)                # cancelled?
    scanned = Signal(str)                  # the model scan ended ("" or an error message)
    error = Signal(str, str)               # title, text: a choice of the user's cannot be carried out
    message = Signal(str)                  # a note for the status bar

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.cache = ModelCache()
        self.cache.on_message = self.message.emit  # a signal: delivered on the GUI thread
        self.runner = JobRunner(self)
        self.scanner = JobRunner(self)
        self.models: list[tuple[str, Path]] = []
        self.model_path: Path | None = None
        self.requested: str | None = None  # --model: selected once the scan has ended
        self.single = False
        self._running = False  # from predict() until `finished`, after the queued per-image results
        self.scan_done = False
        self.masks_dir: Path | None = None  # where a prediction's confidence maps are saved (on the worker)
        self.shown: Path | None = None  # the image on screen: the only one whose confidence map is handed back

    # --- models ----------------------------------------------------------------------
    def scan(self) -> None:
        self.scanner.start(scan_job, on_succeeded=lambda r: self._scanned(*r),
                           on_failed=lambda message, _e: self._scan_failed(message))

    def _scan_failed(self, message: str) -> None:
        self.scan_done = True
        self.set_models([], None)
        self.scanned.emit(f"model scan: {message}")

    def _scanned(self, models, default) -> None:
        self.scan_done = True
        self.set_models(models, default)
        error = ""
        if self.requested:
            error = self.select_spec(self.requested) or ""
            if error:
                self.error.emit("Model", error)
        self.scanned.emit(error)

    def set_models(self, models, default: Path | None) -> None:
        self.models = list(models)
        if self.model_path is None or self.model_path not in [p for _, p in self.models]:
            self.model_path = default
        self.modelsChanged.emit()

    def select(self, path: Path) -> None:
        path = Path(path)
        if path not in [p for _, p in self.models]:
            self.models.append((path.stem, path))
        self.model_path = path
        self.modelsChanged.emit()

    def select_spec(self, spec: str) -> str | None:
        """Select a model by name or checkpoint path; the problem as text if it cannot be."""
        for name, path in self.models:
            if spec == name:
                self.select(path)
                return None
        from segstudio.nets.checkpoint import resolve_model
        from segstudio.nets.errors import ModelError

        try:
            self.select(Path(resolve_model(spec)))
        except ModelError as e:
            return f"--model {spec}: {e}"
        return None

    def select_checked(self, path: Path) -> None:
        """Select a checkpoint the user picked, if its card can be read."""
        from segstudio.nets.errors import ModelError

        try:
            self.model_labelset(path)
        except ModelError as e:
            self.error.emit("Bad checkpoint", f"{path}: {e}")
            return
        self.select(path)

    def model_labelset(self, path: Path | None = None) -> LabelSet:
        """The label set on the card of `path` (default: the selected model); raises ModelError."""
        from segstudio.nets.checkpoint import card_labelset, read_card

        path = path or self.model_path
        return card_labelset(read_card(path), path)

    def fit_problem(self, labelset: LabelSet) -> str | None:
        """Why the selected model cannot predict for `labelset` (None if it can)."""
        from segstudio.nets.errors import ModelError

        try:
            mls = self.model_labelset()
        except ModelError as e:
            return f"{self.model_path}: {e}"
        if mls.num_classes != labelset.num_classes:
            return (f"{self.model_path.name} predicts {mls.num_classes} classes ({', '.join(mls.names[:5])}…) "
                    f"but this folder's label set has {labelset.num_classes}.")
        return None

    # --- prediction ------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        """True from the start of a prediction until its results have all reached the GUI thread
        (the runner itself stops running before its queued results are delivered)."""
        return self._running

    def start(self, images: list[Path], labelset: LabelSet, single: bool) -> None:
        """Predict `images` for a folder of `labelset`, if the selected model fits it (else say why)."""
        if self.busy or self.model_path is None:
            return
        if not images:
            self.message.emit("Every image already has a mask")
            return
        problem = self.fit_problem(labelset)
        if problem:
            self.error.emit("Model does not fit", problem)
            return
        if self.model_labelset().names != labelset.names:
            self.message.emit("Note: the model's class names differ from this folder's label set")
        self.predict(images, single)

    def predict(self, images: list[Path], single: bool) -> None:
        if self.busy or self.model_path is None or not images:
            return
        self.single = single
        self._running = True
        self.runner.start(predict_job(self.cache, self.model_path, list(images), single,
                                      self.masks_dir, lambda: self.shown),
                          on_progress=self._on_progress, on_succeeded=lambda _r: self._done(False),
                          on_failed=lambda message, _e: self._failed(message),
                          on_cancelled=lambda: self._done(True))
        self.busyChanged.emit(True)

    def _on_progress(self, kind: str, *args) -> None:
        if kind == "status":
            self.progress.emit(*args)
        elif kind == "image":
            import numpy as np

            self.imagePredicted.emit(Path(args[0]), np.asarray(args[1], np.uint8))
        elif kind == "confidence":
            self.confidenceReady.emit(Path(args[0]), args[1])
        elif kind == "note":
            self.message.emit(args[0])
        else:
            self.imageFailed.emit(Path(args[0]), args[1])

    def _failed(self, message: str) -> None:
        self.failed.emit(message)
        self._done(False)

    def _done(self, cancelled: bool) -> None:
        self._running = False
        self.busyChanged.emit(False)
        self.finished.emit(cancelled)

    def cancel(self) -> None:
        self.runner.cancel()

    def wait(self, timeout_ms: int = 10000) -> bool:
        """Cancel a running prediction and wait for its thread (the window is closing)."""
        self.scanner.stop(timeout_ms)
        return self.runner.stop(timeout_ms)
