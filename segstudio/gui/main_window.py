"""The main window: wires the project's documents, the canvas, the panels and the controllers together.

It holds no editing, format or model logic of its own: edits are
`core.document.Document` calls made by the canvas, storage is
`core.document_set.DocumentSet`, models and prediction belong to
`PredictionController`, ground truth to `GroundTruthController`, file
choosers and dialogs to `DialogsController`; `window_ui` builds the widgets.
This module opens folders and images, moves between them, saves, applies
predictions to documents and keeps the status bar, title and actions current.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtWidgets import QMainWindow, QMessageBox

from segstudio.core.errors import SegstudioError

from .assist.controller import AssistController
from .canvas import Canvas
from .dialogs import DialogsController
from .ground_truth import GroundTruthController, gt_scores, status_text
from .image_loader import Prefetcher
from .prediction import PredictionController
from .settings_store import check as check_settings, open_settings
from .window_ui import build_ui, restore_layout, save_layout

if TYPE_CHECKING:  # numpy, OpenCV and PIL (core.document, core.project) load after the first paint
    import numpy as np

    from segstudio.core.document import Document
    from segstudio.core.document_set import DocumentSet
    from segstudio.core.labels import LabelSet
    from segstudio.core.project import ImageState, Project

    from .session import Session


class MainWindow(QMainWindow):
    imageOpened = Signal(object)       # Path
    predictionFinished = Signal(bool)  # cancelled?
    modelsReady = Signal()

    def __init__(self, settings: QSettings | None = None, autosave_ms: int = 1500, scan_models: bool = True):
        super().__init__()
        self.settings = check_settings(settings or open_settings())  # a damaged file: defaults, said once
        self.session: Session | None = None
        self.current: Document | None = None
        self.prefetcher = Prefetcher()
        self.problems: list[str] = []
        self.last_error: str | None = None
        self._closing = False

        self.canvas = Canvas(self)
        self.setCentralWidget(self.canvas)
        self.prediction = PredictionController(self)
        self.gt = GroundTruthController(self.settings, self)
        self.autosave_timer = self._timer(autosave_ms, self.autosave)
        self.metrics_timer = self._timer(250, self._update_metrics)
        self.counts_timer = self._timer(100, self._update_counts)
        build_ui(self)  # widgets, actions, and the views over the controllers (tools, model menu)
        self.assist = AssistController(self)  # superpixels, wand, GrabCut, re-predict, confidence
        self.dialogs = DialogsController(self, self.settings, self.recent_menu)
        self._connect()
        self.update_title()
        self._update_undo_actions()
        self.resize(1280, 820)
        self.resizeDocks([self.images_dock, self.classes_dock], [210, 250], Qt.Orientation.Horizontal)
        restore_layout(self)  # geometry, docks, tool (window_ui)
        if scan_models:
            self.prediction.scan()

    @property
    def project(self) -> Project | None:
        return self.session.project if self.session else None

    @property
    def docs(self) -> DocumentSet | None:
        return self.session.docs if self.session else None

    @property
    def save_failures(self) -> dict[Path, str]:
        return self.session.save_failures if self.session else {}

    def _timer(self, ms: int, slot) -> QTimer:
        t = QTimer(self, singleShot=True, interval=ms)
        t.timeout.connect(slot)
        return t

    def _connect(self) -> None:
        c = self.canvas
        c.classPicked.connect(self.set_current_class)
        c.cursorMoved.connect(lambda info: self.status.show_cursor(
            info, self.project.labelset if self.project else None, c.show_gt and c.gt is not None))
        c.zoomChanged.connect(self.status.show_zoom)
        c.message.connect(lambda t: self.statusBar().showMessage(t, 4000))
        p = self.prediction
        p.progress.connect(lambda done, total, what: self.status.show_progress(done, total, f"Predicting: {what}"))
        p.imagePredicted.connect(self._prediction_ready)
        p.imageFailed.connect(lambda path, m: self.report_problem(path, m, self.project.state(path)))
        p.failed.connect(lambda m: self.show_error("Prediction failed", m))
        p.error.connect(self.show_error)
        p.message.connect(lambda text: self.statusBar().showMessage(text, 6000))
        p.finished.connect(self._run_finished)
        p.busyChanged.connect(self.status.set_busy)
        p.scanned.connect(self._models_scanned)
        self.gt.message.connect(lambda text: (self.statusBar().showMessage(text, 8000), self.problems.append(text)))
        d = self.dialogs
        d.openRequested.connect(lambda path, labels, masks: self.open_path(path, labels=labels, masks=masks))
        d.masksReplaced.connect(self.reload_masks)
        d.modelTrained.connect(self._model_trained)
        d.openStem.connect(self.open_stem)

    # ------------------------------------------------------------- project
    def open_path(self, path: str | Path, labels: str | LabelSet | None = None,
                  masks: str | Path | None = None) -> bool:
        """Open a folder or an image file; returns False (with a message) on failure."""
        from segstudio.core.project import Project
        from segstudio.gui.session import Session  # numpy, PIL and OpenCV load with the first folder

        try:
            project = Project.open(path, labels=labels, masks=masks, lock=True)
        except SegstudioError as e:
            self.show_error("Cannot open", str(e))
            return False
        if not self.save_all():
            self.show_error("Unsaved masks", "Some masks of the current folder could not be saved; "
                            "fix the problem (see the status bar) before opening another folder.")
            return False
        self._close_project()
        self.session = Session(project, self.prefetcher, self.report_problem,
                               on_open=lambda d: d.subscribe(on_history=lambda: self._doc_history(d)))
        if project.last_save_error:
            self.problems.append(project.last_save_error)
        self.tools.set_labelset(project.labelset)
        self.file_list.set_images(project.images, {p: project.state(p) for p in project.images})
        self.gt.restore(project.images_dir)
        self.dialogs.add_recent(project.images_dir)
        self.update_title()
        if not project.images:
            self.statusBar().showMessage(f"{project.images_dir}: no images in this folder", 8000)
            return True
        first = project.start_image if project.start_image in project.images else None
        if first is None:
            last = self.settings.value(f"last_image/{project.images_dir}", "", str)
            first = Path(last) if last and Path(last) in project.images else project.images[0]
        if not self.open_image(first):
            self.next_image()
        return True

    def _close_project(self) -> None:
        self.canvas.clear()
        self.current = None
        if self.docs is not None:
            self.docs.clear()
        self.gt.folder = None
        self.session = None

    def _leave_current(self) -> bool:
        """Save the current image (if changed) and release its pixels; False if the save failed."""
        doc = self.current
        if doc is None:
            return True
        self.canvas.cancel_interaction()
        ok = self.save_doc(doc)
        if ok:
            doc.unload()
        return ok

    def open_image(self, path: str | Path) -> bool:
        """Switch to an image of the project; False (reported) if it cannot be read.

        The image decodes on the prefetch thread (if it is not prefetched
        already) while this thread saves the previous mask and reads the new one.
        """
        if self.project is None:
            return False
        path = Path(path)
        if self.current is not None and self.current.path == path:
            return True
        self.prefetcher.prefetch(path, urgent=True)
        prev = self.current
        prev_saved = True
        if prev is not None:
            self.canvas.cancel_interaction()
            prev_saved = self.save_doc(prev)
        loaded = self.session.load(path)
        if loaded is None:
            return False
        doc, pixels = loaded
        if prev is not None and prev_saved:
            prev.unload()
        self._show_document(doc, pixels)
        return True

    def _show_document(self, doc: Document, pixels: np.ndarray) -> None:
        path = doc.path
        self.current = doc
        self.canvas.editable = not doc.read_only
        self.canvas.set_document(pixels, doc, keep_view=True)
        self._load_gt()
        self.file_list.select(path)
        self.refresh_state(path)
        self._update_counts()
        self.update_title()
        self._update_undo_actions()
        self.settings.setValue(f"last_image/{self.project.images_dir}", str(path))
        self.session.prefetch_neighbours(path)
        self.imageOpened.emit(path)

    def _step_image(self, delta: int) -> None:
        if self.project is None:
            return
        order = self.file_list.visible_paths() or self.project.images
        if not order:
            return
        cur = self.current.path if self.current else None
        i = order.index(cur) if cur in order else (-1 if delta > 0 else len(order))
        j = i + delta
        while 0 <= j < len(order):
            if self.open_image(order[j]):
                return
            j += delta

    def next_image(self) -> None:
        self._step_image(1)

    def prev_image(self) -> None:
        self._step_image(-1)

    def open_stem(self, stem: str) -> None:
        for p in self.project.images if self.project else []:
            if p.stem == stem:
                self.open_image(p)
                return

    def reload_masks(self) -> None:
        """Re-read every mask from disk (after an import); histories are dropped."""
        if self.project is None:
            return
        cur = self.current.path if self.current else None
        self.canvas.clear()
        self.docs.clear()
        self.current = None
        self.project.rescan()
        self.file_list.set_images(self.project.images, {q: self.project.state(q) for q in self.project.images})
        if cur is not None and cur in self.project.images:
            self.open_image(cur)

    # --------------------------------------------------------------- edits
    def undo(self) -> None:
        if self.current is not None and not self.canvas.is_busy():
            self.current.undo()

    def redo(self) -> None:
        if self.current is not None and not self.canvas.is_busy():
            self.current.redo()

    def _update_undo_actions(self) -> None:
        doc = self.current
        for act, verb, can, text in ((self.act_undo, "Undo", doc is not None and doc.can_undo,
                                      doc.undo_text() if doc else ""),
                                     (self.act_redo, "Redo", doc is not None and doc.can_redo,
                                      doc.redo_text() if doc else "")):
            act.setEnabled(can)
            act.setText(f"&{verb} {text}".rstrip())

    def _doc_history(self, doc: Document) -> None:
        if self._closing:
            return
        self.refresh_state(doc.path)
        if doc is not self.current:
            return
        self.autosave_timer.start()
        self.counts_timer.start()
        self.metrics_timer.start()
        self.update_title()
        self._update_undo_actions()

    def set_current_class(self, index: int) -> None:
        self.tools.set_current_class(index)

    def _update_counts(self) -> None:
        self.class_panel.set_counts(self.current.counts if self.current and self.current.loaded else None)

    # ---------------------------------------------------------------- saving
    def save_doc(self, doc: Document) -> bool:
        """Save `doc` if it changed; False (reported once per image, then in the status bar) if that failed."""
        first = doc.path not in self.save_failures
        try:
            path = self.session.save(doc)
        except (OSError, SegstudioError) as e:
            msg = self.save_failures[doc.path]
            if first and not self.safety.conflict(doc, e):  # gui/safety.py: banner, retries, changed files
                self.show_error("Cannot save mask", msg + "\n\nThe edits are kept in memory; saving is retried "
                                "automatically (see the warning above the image) and when you close.")
            self.statusBar().showMessage(msg, 10000)
            self.problems.append(msg)
            self.update_title()
            return False
        if path is not None:
            self.refresh_state(doc.path)
            self.update_title()
            self.statusBar().showMessage(f"Saved {path.name}", 2000)
        return doc.path not in self.save_failures

    def autosave(self) -> None:
        if self.canvas.is_busy():
            self.autosave_timer.start()
            return
        if self.current is not None:
            self.save_doc(self.current)

    def save_current(self) -> bool:
        self.canvas.cancel_interaction()
        return self.save_doc(self.current) if self.current is not None else True

    def save_all(self) -> bool:
        self.canvas.cancel_interaction()
        ok = True
        for doc in self.docs or []:
            ok = self.save_doc(doc) and ok
        return ok

    def refresh_state(self, path: Path) -> None:
        if self.project is None or (self.file_list.state(path) is None and path in self.session.unreadable):
            return
        self.file_list.set_state(path, self.docs.state(path), self.save_failures.get(path))

    def update_title(self) -> None:
        name = "segstudio"
        if self.current is not None:
            name = f"{self.current.path.name} [*] — {self.project.images_dir.name} — segstudio"
        elif self.project is not None:
            name = f"{self.project.images_dir.name} [*] — segstudio"
        self.setWindowTitle(name)
        self.setWindowModified((self.current is not None and self.current.dirty) or bool(self.save_failures))

    def closeEvent(self, event) -> None:
        self.prediction.wait(10000)
        if not self.save_all():
            text = "These masks could not be saved:\n\n" + "\n".join(self.save_failures.values())
            ans = QMessageBox.question(self, "Unsaved masks", text + "\n\nClose anyway and lose these changes?",
                                       QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                       QMessageBox.StandardButton.No)
            if ans != QMessageBox.StandardButton.Yes:
                event.ignore()
                return
        save_layout(self)
        self.settings.sync()
        self.prefetcher.shutdown()
        self._closing = True
        event.accept()

    # --------------------------------------------------------------- problems
    def report_problem(self, path: Path, message: str, state: ImageState | None = None) -> None:
        """A problem with one image; state None: the image itself cannot be read."""
        self.file_list.set_state(path, state, message)
        self.problems.append(message)
        self.statusBar().showMessage(message, 10000)

    def show_error(self, title: str, text: str) -> None:
        """Show an error without blocking (tests read `last_error`)."""
        self.last_error = text
        self.problems.append(text)
        box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.setWindowModality(Qt.WindowModality.NonModal)
        box.show()

    # ------------------------------------------------------------ ground truth
    def choose_gt_dir(self) -> None:
        start = self.gt.folder or (self.project.images_dir if self.project else Path.home())
        folder = self.dialogs.choose_gt_dir(start)
        if folder is not None:
            self.set_gt_dir(folder)

    def set_gt_dir(self, folder: Path | None) -> None:
        self.gt.set_folder(self.project.images_dir if self.project else None, folder)
        self._load_gt()

    @property
    def gt_dir(self) -> Path | None:
        return self.gt.folder

    def _load_gt(self) -> None:
        gt = self.gt.load(self.current.path, self.canvas.image_size()) if self.current is not None else None
        self.canvas.set_gt(gt)
        self._update_metrics()

    def _toggle_show_gt(self, on: bool) -> None:
        self.canvas.set_show_gt(on)
        if on and self.canvas.gt is None:
            self.statusBar().showMessage("No ground truth for this image (View > Ground Truth Folder…)", 5000)

    def gt_scores(self):
        """(pixel accuracy, mIoU, share of GT pixels still unlabelled) of the current mask, or None."""
        if self.project is None:
            return None
        return gt_scores(self.canvas.gt, self.canvas.labels, self.project.labelset.num_classes)

    def _update_metrics(self) -> None:
        self.metrics_label.setText(status_text(self.gt_scores()))

    # -------------------------------------------------------------- dialogs
    def _require_project(self) -> bool:
        if self.project is None:
            self.show_error("No folder", "Open a folder first.")
        return self.project is not None

    def choose_folder(self) -> None:
        self.dialogs.choose_folder(self.project.images_dir if self.project else None)

    def choose_image(self) -> None:
        self.dialogs.choose_image(self.project.images_dir if self.project else None)

    def choose_labelset(self) -> None:
        if self.project is not None:
            self.dialogs.choose_labelset(self.project, self.current.path if self.current else self.project.images_dir)

    def choose_masks_dir(self) -> None:
        if self.project is not None:
            self.dialogs.choose_masks_dir(self.project, self.current.path if self.current else self.project.images_dir)

    def open_export(self, fmt: str) -> None:
        if self._require_project():
            self.save_all()
            self.dialogs.open_export(self.project, fmt)

    def open_import(self, kind: str) -> None:
        if self._require_project():
            self.save_all()
            self.dialogs.open_import(self.project, kind)

    def open_eval(self) -> None:
        if self._require_project():
            self.save_all()
            self.dialogs.open_eval(self.project, self.gt.folder, self.prediction.model_path)

    def open_train(self) -> None:
        if self._require_project():
            self.save_all()
            self.dialogs.open_train(self.project)

    def _model_trained(self, path: Path) -> None:
        self.prediction.select(Path(path))
        self.statusBar().showMessage(f"New model {Path(path).stem} selected", 6000)

    # ------------------------------------------------------------- prediction
    def choose_checkpoint(self) -> None:
        path = self.dialogs.choose_checkpoint()
        if path is not None:
            self.prediction.select_checked(path)

    def _models_scanned(self, error: str) -> None:
        if error:
            self.problems.append(error)
        self.modelsReady.emit()

    def predict_current(self) -> None:
        if self.current is not None:
            self.prediction.start([self.current.path], self.project.labelset, single=True)

    def predict_unlabelled(self) -> None:
        if self.session is not None and self.prediction.model_path is not None and not self.prediction.busy:
            self.prediction.start(self.session.to_predict(), self.project.labelset, single=False)

    def cancel_prediction(self) -> None:
        if self.prediction.busy:
            self.prediction.cancel()
            self.statusBar().showMessage("Cancelling…", 3000)

    def _run_finished(self, cancelled: bool) -> None:
        self.statusBar().showMessage("Prediction cancelled" if cancelled else "Prediction finished", 4000)
        self.predictionFinished.emit(cancelled)

    def _prediction_ready(self, path: Path, labels: np.ndarray) -> None:
        if self.project is None or path not in self.project.images:
            return
        if self.current is not None and self.current.path == path:
            self.canvas.cancel_interaction()  # a stroke in progress is finished first
        try:
            doc, was_loaded = self.docs.apply_prediction(path, labels,
                                                         fill_only_unlabelled=self.act_fill_only.isChecked(),
                                                         to_disk_if_unopened=not self.prediction.single)
        except (OSError, SegstudioError) as e:
            self.report_problem(path, f"prediction not applied: {e}", self.project.state(path))
            return
        if doc is not None and doc is not self.current:
            self.save_doc(doc)
            if not was_loaded and doc.path not in self.save_failures:
                doc.unload()
        self.refresh_state(path)
