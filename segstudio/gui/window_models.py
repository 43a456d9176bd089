"""Main-window part: the Model menu and background prediction.

Finds the installed models (on a thread: importing torch takes seconds),
keeps the selected checkpoint, starts PredictionRun workers and applies
their results as undoable steps (or straight to disk for images never
opened). Mixed into MainWindow; uses its project, documents and canvas.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog

from segstudio.core import labelmap as lm
from segstudio.core.errors import SegstudioError
from segstudio.core.project import ImageState

from .predict_worker import PredictionRun


class _ModelScan(QObject):
    """Finds the installed models on a plain thread (importing torch takes seconds)."""

    done = Signal(object, object, object)  # [(name, path)], default path or None, error or None

    def start(self) -> None:
        threading.Thread(target=self._run, name="segstudio-model-scan", daemon=True).start()

    def _run(self) -> None:
        try:
            from segstudio.nets.checkpoint import default_model, find_models

            models = [(m.name, Path(m.path)) for m in find_models()]
            d = default_model()
            self.done.emit(models, Path(d.path) if d else None, None)
        except Exception as e:  # noqa: BLE001 - no models is not fatal
            self.done.emit([], None, f"{type(e).__name__}: {e}")


class ModelsMixin:
    def _rebuild_model_menu(self) -> None:
        m = self.model_menu
        m.clear()
        if not self.models:
            none = m.addAction("(no models found)")
            none.setEnabled(False)
        for name, path in self.models:
            a = QAction(name, self, checkable=True)
            a.setData(str(path))
            a.setToolTip(str(path))
            a.setChecked(self.model_path is not None and path == self.model_path)
            a.triggered.connect(lambda _=False, p=path: self.select_model(p))
            self.model_group.addAction(a)
            m.addAction(a)
        m.addSeparator()
        m.addAction(self.act_load_ckpt)
        m.addSeparator()
        m.addAction(self.act_predict)
        m.addAction(self.act_predict_all)
        m.addAction(self.act_fill_only)
        m.addAction(self.act_cancel)
        m.addSeparator()
        m.addAction(self.act_train)


    # ------------------------------------------------------------------ models
    def _models_scanned(self, models, default, error) -> None:
        self._scan_done = True
        if error:
            self.problems.append(f"model scan: {error}")
        self._set_models(models, default)
        if self._requested_model:
            self.select_model_spec(self._requested_model)
        self.modelsReady.emit()

    def _set_models(self, models, default) -> None:
        self.models = list(models)
        if self.model_path is None or self.model_path not in [p for _, p in self.models]:
            self.model_path = default
        self._rebuild_model_menu()
        self._update_model_actions()

    def select_model(self, path: Path) -> None:
        path = Path(path)
        if path not in [p for _, p in self.models]:
            self.models.append((path.stem, path))
        self.model_path = path
        self._rebuild_model_menu()
        self._update_model_actions()

    def select_model_spec(self, spec: str) -> None:
        """Select a model by name or checkpoint path (the --model option)."""
        for name, path in self.models:
            if spec == name:
                return self.select_model(path)
        try:
            from segstudio.nets.checkpoint import resolve_model

            self.select_model(Path(resolve_model(spec)))
        except Exception as e:  # noqa: BLE001
            self._error("Model", f"--model {spec}: {e}")

    def _update_model_actions(self) -> None:
        busy = self.run is not None
        has = self.model_path is not None
        tip = "" if has else "No model: choose one in the Model menu or Load Checkpoint…"
        for a, t in ((self.act_predict, "Predict this image with the selected model"),
                     (self.act_predict_all, "Predict every image that has no mask yet")):
            a.setEnabled(has and not busy)
            a.setToolTip(t if has else tip)
            a.setStatusTip(a.toolTip())
        self.act_cancel.setEnabled(busy)
        self.model_combo_label.setText(f"  model: {self.model_path.stem}" if has else "  no model")
        self.model_combo_label.setToolTip(str(self.model_path) if has else tip)

    def choose_checkpoint(self) -> None:
        f, _ = QFileDialog.getOpenFileName(self, "Load checkpoint", str(Path.home()),
                                           "segstudio checkpoints (*.safetensors)")
        if f:
            try:
                from segstudio.nets.checkpoint import read_card

                read_card(f)
            except Exception as e:  # noqa: BLE001
                self._error("Bad checkpoint", f"{f}: {e}")
                return
            self.select_model(Path(f))

    def _check_model_labels(self) -> bool:
        try:
            from segstudio.nets.checkpoint import card_labelset, read_card

            mls = card_labelset(read_card(self.model_path))
        except Exception as e:  # noqa: BLE001
            self._error("Bad checkpoint", f"{self.model_path}: {e}")
            return False
        pls = self.project.labelset
        if mls.num_classes != pls.num_classes:
            self._error("Model does not fit", f"{self.model_path.name} predicts {mls.num_classes} classes "
                        f"({', '.join(mls.names[:5])}…) but this folder's label set has {pls.num_classes}.")
            return False
        if mls.names != pls.names:
            self.statusBar().showMessage("Note: the model's class names differ from this folder's label set", 6000)
        return True

    def predict_current(self) -> None:
        if self.current is None or self.model_path is None or self.run is not None:
            return
        if self._check_model_labels():
            self._start_run([self.current.path], single=True)

    def predict_unlabelled(self) -> None:
        if self.project is None or self.model_path is None or self.run is not None:
            return
        todo = [p for p in self.project.unlabelled_images()
                if p not in self._unreadable() and not (p in self.docs and self.docs[p].dirty)]
        if not todo:
            self.statusBar().showMessage("Every image already has a mask", 4000)
            return
        if self._check_model_labels():
            self._start_run(todo, single=False)

    def _start_run(self, images: list[Path], single: bool) -> None:
        run = PredictionRun(self.model_cache, self.model_path, images, single, self)
        run.worker.progress.connect(self._run_progress)
        run.worker.imageDone.connect(self._prediction_ready)
        run.worker.imageFailed.connect(lambda p, m: self._report_problem(Path(p), m, self.project.state(Path(p))))
        run.worker.failed.connect(lambda m: self._error("Prediction failed", m))
        run.finished.connect(self._run_finished)
        self.run = run
        self.progress.setRange(0, 0)
        self.progress.setVisible(True)
        self.cancel_button.setVisible(True)
        self._update_model_actions()
        run.start()

    def _run_progress(self, done: int, total: int, what: str) -> None:
        if total > 0:
            self.progress.setRange(0, total)
            self.progress.setValue(done)
        self.statusBar().showMessage(f"Predicting: {what}", 3000)

    def cancel_prediction(self) -> None:
        if self.run is not None:
            self.run.cancel()
            self.statusBar().showMessage("Cancelling…", 3000)

    def _run_finished(self, cancelled: bool) -> None:
        run, self.run = self.run, None
        if run is not None:
            run.deleteLater()
        self.progress.setVisible(False)
        self.cancel_button.setVisible(False)
        self._update_model_actions()
        self.statusBar().showMessage("Prediction cancelled" if cancelled else "Prediction finished", 4000)
        self.predictionFinished.emit(cancelled)

    def _prediction_ready(self, path_str: str, labels: np.ndarray) -> None:
        path = Path(path_str)
        if self.project is None or path not in self.project.images:
            return
        labels = np.asarray(labels, np.uint8)
        fill_only = self.act_fill_only.isChecked()
        ig = self.project.labelset.ignore_index
        doc = self.docs.get(path)
        try:
            if doc is None and not self.project.has_mask(path) and (self.run is None or not self.run.single):
                # Batch result for an image never opened: write it straight to disk.
                self.project.save_mask(path, labels, ImageState.PREDICTED)
                self._refresh_state(path)
                return
            doc = self._doc(path)
            was_loaded = doc.loaded
            if not was_loaded:
                doc.load((labels.shape[1], labels.shape[0]))
            if doc.labels.shape != labels.shape:
                raise SegstudioError(f"{path}: prediction is {labels.shape[1]}x{labels.shape[0]}, "
                                     f"image is {doc.labels.shape[1]}x{doc.labels.shape[0]}")
            if doc is self.current:
                self.canvas.cancel_interaction()  # a stroke in progress is finished first
            diff = lm.replace_labels(doc.labels, labels, only_unlabelled=fill_only, ignore_index=ig)
            doc.push(diff, "Prediction", ImageState.PREDICTED)
            if doc is self.current:
                self.canvas.refresh()
                self._update_counts()
            else:
                self._save_doc(doc)
                if not was_loaded and doc.path not in self.save_failures:
                    doc.unload()
            self._refresh_state(path)
        except (OSError, SegstudioError) as e:
            self._report_problem(path, f"prediction not applied: {e}", self.project.state(path))
