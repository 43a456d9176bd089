"""Learn As I Annotate: the studio fine-tunes a project model on the finished images in the background.

`LearningLoop(win)` adds a checkable Model > Learn As I Annotate (remembered
in the settings, `learning_loop/enabled`) and a status-bar line. While it is
on, a while (`debounce_ms`) after an image is saved or the person moves to
another image, if the finished images changed (saved or reviewed, with their
mask files' times; the image on screen counts once it is left or reviewed),
one round runs on a JobRunner thread: `nets.learning_loop.finetune` trains the
next project model version (one torch thread, lowered priority, a short time
budget; it writes `<images>/segstudio-project-model/project-vN`), then the
images that are unlabelled or only predicted (never an edited, saved or
reviewed one, never the one on screen) are predicted with it, those after
the current image first. A prediction is applied on the GUI thread only if the
image is still unlabelled or predicted then: one undoable step for an open
document, straight to the mask file otherwise (as Predict All does). The new
version is selected for the other model tools when the selected model was
the one it grew from. Turning the loop off, or closing the window, cancels
a running round (nothing half-written is kept).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QLabel

from segstudio.core.errors import SegstudioError
from segstudio.core.states import ImageState

from .jobs import CancelFlag, JobRunner

SETTING = "learning_loop/enabled"
FINISHED = (ImageState.SAVED, ImageState.REVIEWED)
OPEN_TO_PREDICTION = (ImageState.UNLABELLED, ImageState.PREDICTED)


def loop_job(images_dir, masks_dir, stems, labelset, selected, targets, settings):
    """The round on the worker: fine-tune, then predict `targets`; reports ("trained", LoopResult),
    ("image", path, labels), ("status", text)."""
    def job(progress, cancelled):
        from segstudio.nets.learning_loop import finetune, predict_images

        result = finetune(images_dir, masks_dir, stems, labelset, selected=selected, settings=settings,
                          cancel=CancelFlag(cancelled), progress=lambda text: progress("status", text))
        if result is None:
            return None
        progress("trained", result)
        predict_images(result.path, targets, settings, cancelled, lambda p, labels: progress("image", p, labels))
        return result
    return job


class LearningLoop(QObject):
    def __init__(self, win, debounce_ms: int = 15000, settings=None):
        super().__init__(win)
        self.win = win
        self.runner = JobRunner(self)
        self.loop_settings = settings  # nets.learning_loop.LoopSettings, or None: its defaults
        self.timer = QTimer(self, singleShot=True, interval=debounce_ms)
        self.timer.timeout.connect(self.check)
        self.trained_on: frozenset = frozenset()  # (stem, mask mtime) of the last round's images
        self.version: Path | None = None
        self.repredicted = 0
        self.rounds = 0
        self._hooked = None
        self.action = QAction("Learn As I Annotate", win, checkable=True)
        self.action.setToolTip("Fine-tune a project model on your saved images in the background and "
                               "re-predict the images nobody has edited yet")
        self.action.setStatusTip(self.action.toolTip())
        self.action.setChecked(win.settings.value(SETTING, False, type=bool))
        self.action.toggled.connect(self.set_enabled)
        self.label = QLabel()
        win.statusBar().addPermanentWidget(self.label)
        win.prediction.modelsChanged.connect(self._add_to_menu)  # after ModelMenu.rebuild cleared the menu
        self._add_to_menu()
        win.imageOpened.connect(self._image_opened)
        win.installEventFilter(self)
        self._show()

    # --- switching -------------------------------------------------------------------
    def _add_to_menu(self) -> None:
        menu = self.win.model_menu
        if self.action not in menu.actions():
            menu.addSeparator()
            menu.addAction(self.action)

    @property
    def enabled(self) -> bool:
        return self.action.isChecked()

    def set_enabled(self, on: bool) -> None:
        if self.action.isChecked() != on:
            self.action.setChecked(on)  # toggled -> here again
            return
        self.win.settings.setValue(SETTING, on)
        if on:
            self.schedule()
        else:
            self.timer.stop()
            self.runner.cancel()
        self._show()

    def eventFilter(self, obj, event) -> bool:
        if obj is self.win and event.type() == QEvent.Type.Close:
            self.stop()
        return False

    def stop(self) -> None:
        self.timer.stop()
        self.runner.stop()

    # --- when to learn ---------------------------------------------------------------
    def _image_opened(self, _path) -> None:
        session = self.win.session
        if session is not None and self._hooked is not session:
            self._hooked = session
            self.trained_on, self.version, self.repredicted = frozenset(), None, 0
            session.save_listeners.append(lambda _p, error: self.schedule() if error is None else None)
            if self.enabled:  # a version an earlier session trained (torch loads only with the loop on)
                from segstudio.nets.learning_loop import latest, model_dir

                self.version = latest(model_dir(session.project.images_dir))
                self._show()
        self.schedule()

    def schedule(self) -> None:
        if self.enabled:
            self.timer.start()

    def finished_images(self) -> list[Path]:
        """Saved or reviewed images (the one on screen only once reviewed) whose mask is on disk."""
        win = self.win
        current = win.current.path if win.current is not None else None
        out = []
        for p in win.project.images:
            state = win.docs.state(p)
            if state in FINISHED and (p != current or state is ImageState.REVIEWED) and win.project.has_mask(p):
                out.append(p)
        return out

    def _signature(self, images: list[Path]) -> frozenset:
        sig = set()
        for p in images:
            try:
                sig.add((p.stem, self.win.project.mask_path(p).stat().st_mtime_ns))
            except OSError:
                pass
        return frozenset(sig)

    def check(self) -> bool:
        """Start a round if the loop is on, idle, and the finished images changed; True if one started."""
        win = self.win
        if not self.enabled or self.runner.running() or win.project is None or win.project.read_only:
            return False
        finished = self.finished_images()
        signature = self._signature(finished)
        if not finished or signature == self.trained_on:
            return False
        self.start(finished, signature)
        return True

    def start(self, finished: list[Path], signature: frozenset) -> None:
        from segstudio.nets.learning_loop import LoopSettings, model_dir, repredict_order

        win, project = self.win, self.win.project
        current = win.current.path if win.current is not None else None
        targets = repredict_order(project.images, current, lambda p: win.docs.state(p) in OPEN_TO_PREDICTION)
        self.trained_on = signature
        self.base = win.prediction.model_path
        self.folder = model_dir(project.images_dir)
        self.label.setText(f"Learning: training on {len(finished)} images…")
        self.runner.start(loop_job(project.images_dir, project.masks_dir, [p.stem for p in finished],
                                   project.labelset, win.prediction.model_path, targets,
                                   self.loop_settings or LoopSettings()),
                          on_progress=self._progress, on_succeeded=self._succeeded,
                          on_failed=lambda message, _e: self._failed(message),
                          on_cancelled=self._cancelled, on_finished=self.schedule)

    # --- results (GUI thread) --------------------------------------------------------
    def _progress(self, kind: str, *args) -> None:
        if kind == "status":
            self.label.setText(f"Learning: {args[0]}")
        elif kind == "trained":
            self._trained(args[0])
        elif kind == "image":
            self._apply(Path(args[0]), args[1])

    def _trained(self, result) -> None:
        pred = self.win.prediction
        self.version, self.repredicted, self.rounds = result.path, 0, self.rounds + 1
        follow = pred.model_path is None or pred.model_path == self.base or pred.model_path.parent == self.folder
        if follow:
            pred.select(result.path)
        elif result.path not in [p for _, p in pred.models]:
            pred.models.append((result.path.stem, result.path))
            pred.modelsChanged.emit()
        self._show()

    def _apply(self, path: Path, labels) -> None:
        win = self.win
        if win.project is None or path not in win.project.images:
            return
        if (win.current is not None and win.current.path == path) or win.docs.state(path) not in OPEN_TO_PREDICTION:
            return  # edited, saved or reviewed since the round started: never overwritten
        try:
            doc, was_loaded = win.docs.apply_prediction(path, labels, to_disk_if_unopened=True)
        except (OSError, SegstudioError) as e:
            win.statusBar().showMessage(f"Learning loop: {path.name} not re-predicted ({e})", 6000)
            return
        if doc is not None:
            win.save_doc(doc)
            if not was_loaded and doc.path not in win.save_failures:
                doc.unload()
        win.refresh_state(path)
        self.repredicted += 1
        self._show()

    def _succeeded(self, result) -> None:
        self._show()

    def _failed(self, message: str) -> None:
        self.label.setText("Learning failed (see the status bar)")
        self.win.statusBar().showMessage(f"Learning loop: {message.splitlines()[0]}", 10000)

    def _cancelled(self) -> None:
        self.trained_on = frozenset()  # nothing was learnt from them
        self._show()

    def status_text(self) -> str:
        if self.version is None:
            return "Learning: on, waiting for saved images" if self.enabled else ""
        from segstudio.nets.learning_loop import describe

        text = f"{describe(self.version)} · re-predicted {self.repredicted}"
        return text[0].upper() + text[1:] + ("" if self.enabled else " · learning off")

    def _show(self) -> None:
        self.label.setText(self.status_text())
