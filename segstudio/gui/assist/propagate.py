"""Propagate a mask to the next video frames: the Assist menu's J and Shift+J, on worker threads.

`PropagateController` adds to the Assist menu:
- Propagate from Previous Frame (J): the previous frame of the current image's
  sequence (core.video.sequences: names ending in a frame number) gives its
  mask (the open document's, with unsaved edits, else the saved one); it is
  warped to this frame by optical flow and fused with the current model's
  probabilities (core.assist.propagate). The probabilities are the model
  wand's (`AssistController.probs`, computed once per image and model
  setting). One undoable step.
- Propagate Forward… (Shift+J): the same through the next K frames, each from
  the one before, on a worker with a progress dialog and Cancel; every frame is
  one undoable step in its own history and is saved as it is done.
- Overwrite My Edits: off by default, propagation changes only pixels that
  are unlabelled or hold machine labels (a prediction or an earlier
  propagation): what a person painted, and the labelled pixels of a mask a
  person saved, stay (`core.assist.propagate.edited_pixels`, from the image's
  history and state). "Protect other classes" (a fixed class) is honoured too.
A propagated frame is in the "predicted" state (machine labels to review)
unless it kept edits. The worker never touches widgets.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QInputDialog, QProgressDialog

from segstudio.core.states import ImageState

from ..jobs import JobRunner, progress_dialog
from .propagate_forward import apply_frame, forward_job, propagate_one, writable

if TYPE_CHECKING:
    import numpy as np

HUMAN = (ImageState.SAVED, ImageState.REVIEWED, ImageState.EDITED)


class PropagateController(QObject):
    def __init__(self, assist):
        super().__init__(assist)
        self.assist, self.win = assist, assist.win
        self.runner = JobRunner(self)
        self.forward_runner = JobRunner(self)
        self.pending: Path | None = None  # waiting for the model's probabilities of this image
        self.base_states: dict[Path, ImageState] = {}  # each image's state when its history began
        self.dialog: QProgressDialog | None = None
        self.applied = 0
        self._build_actions()
        self.win.imageOpened.connect(self._image_opened)
        assist.probs.ready.connect(self._probs_ready)
        assist.probs.failed.connect(lambda m: self._drop_pending())

    def _build_actions(self) -> None:
        win = self.win
        self.act_one = QAction("Propagate from &Previous Frame", win)
        self.act_one.setShortcut(QKeySequence("J"))
        self.act_one.setToolTip("Warp the previous frame's mask to this frame by optical flow, fused with the "
                                "model's prediction where the flow is unsure (J)")
        self.act_one.triggered.connect(self.propagate_current)
        self.act_forward = QAction("Propagate &Forward Through Next Frames…", win)
        self.act_forward.setShortcut(QKeySequence("Shift+J"))
        self.act_forward.setToolTip("Propagate this frame's mask through the next K frames of the sequence "
                                    "(Shift+J)")
        self.act_forward.triggered.connect(lambda: self.ask_forward())
        self.act_overwrite = QAction("Propagation Overwrites My &Edits", win, checkable=True)
        self.act_overwrite.setToolTip("Off: propagation changes only unlabelled pixels and machine labels")
        menu = self.assist.menu
        menu.addSeparator()
        for a in (self.act_one, self.act_forward, self.act_overwrite):
            a.setStatusTip(a.toolTip())
            win.addAction(a)
            menu.addAction(a)

    def say(self, text: str, ms: int = 6000) -> None:
        self.win.statusBar().showMessage(text, ms)

    # --- what may be written -------------------------------------------------------------
    def _image_opened(self, path) -> None:
        doc = self.win.current
        if doc is not None and doc.history_length == 0:
            self.base_states[Path(path)] = self.win.project.state(path)

    def edited(self, doc):
        """The pixels of `doc` propagation must leave alone (None with Overwrite My Edits)."""
        from segstudio.core.assist.propagate import edited_pixels

        if self.act_overwrite.isChecked():
            return None
        return edited_pixels(doc.labels, doc.ignore_index, self._human_base(doc.path, doc),
                             doc.steps[:doc.history_index])

    def _human_base(self, path: Path, doc) -> bool:
        """Whether the mask `doc`'s history starts from (the file's, without a history) is a person's."""
        base = self.base_states.get(path) if doc is not None and doc.history_length else None
        return (base or self.win.project.state(path)) in HUMAN

    def protect(self):
        c = self.win.canvas
        return None if c.protect_under_press else c.protect

    # --- one frame -----------------------------------------------------------------------
    def previous(self, path: Path) -> Path | None:
        from segstudio.core.video import neighbours

        return neighbours(self.win.project.images, path)[0]

    def mask_of(self, path: Path, size) -> np.ndarray | None:
        """The labels of frame `path`: its open document's (unsaved edits too), else its saved mask."""
        doc = self.win.docs.get(path)
        if doc is not None and doc.loaded:
            return doc.labels.copy()
        return self.win.project.load_mask(path, size)

    def _model_key(self, path: Path):
        pred = self.win.prediction
        if pred.model_path is None:
            return None
        return (path, pred.model_path, pred.cache.scale, pred.cache.tta)

    def current_rgb(self):
        import cv2

        pixels = getattr(self.win.canvas, "_pixels", None)
        return None if pixels is None else cv2.cvtColor(pixels, cv2.COLOR_BGRA2RGB)

    def propagate_current(self) -> None:
        """J: propagate into the image on screen from the previous frame of its sequence."""
        from segstudio.core.errors import SegstudioError

        win, doc = self.win, self.win.current
        if doc is None or not doc.loaded or not self.assist._can_edit():
            return
        if self.runner.running():
            self.say("Still propagating…")
            return
        prev = self.previous(doc.path)
        if prev is None:
            self.say(f"{doc.path.name} has no previous frame: it is the first of its sequence, or its name does "
                     "not end in a frame number")
            return
        try:
            prev_labels = self.mask_of(prev, (doc.labels.shape[1], doc.labels.shape[0]))
        except SegstudioError as e:
            self.say(f"Cannot propagate: {e}", 10000)
            return
        if prev_labels is None:
            self.say(f"The previous frame {prev.name} has no mask yet")
            return
        rgb = self.current_rgb()
        key = self._model_key(doc.path)
        probs = self.assist.probs.get(key) if key is not None else None
        if key is not None and probs is None:
            self.pending = doc.path
            self.assist.probs.request(key, rgb, win.prediction)
            self.say(f"Predicting {doc.path.name} with {key[1].stem} to fuse with the propagation…", 0)
            return
        self._start_one(doc, prev, prev_labels, rgb, probs)

    def _probs_ready(self, key) -> None:
        if self.pending is not None and self.win.current is not None and key[0] == self.pending == \
                self.win.current.path:
            self.pending = None
            self.propagate_current()

    def _drop_pending(self) -> None:
        self.pending = None

    def _start_one(self, doc, prev: Path, prev_labels, rgb, probs) -> None:
        from segstudio.core.imageio import load_image

        ignore, path = doc.ignore_index, doc.path

        def job(progress, cancelled):
            prev_rgb = load_image(prev)
            return propagate_one(prev_labels, prev_rgb, rgb, probs, ignore, cancelled)

        self.say(f"Propagating from {prev.name}…", 0)
        self.runner.start(job, on_succeeded=lambda r: self._apply_one(path, prev, *r, probs is not None),
                          on_failed=lambda m, _e: self.say(f"Propagation failed: {m}", 10000))

    def _apply_one(self, path: Path, prev: Path, proposal, from_warp, with_model: bool) -> None:
        doc = self.win.current
        if doc is None or doc.path != path or not doc.loaded or proposal.shape != doc.labels.shape:
            self.say("Propagation dropped: another image is shown")
            return
        self.win.canvas.cancel_interaction()
        new, kept = writable(doc.labels, proposal, self.edited(doc), self.protect(), doc.ignore_index)
        state = ImageState.EDITED if kept else ImageState.PREDICTED
        diff = doc.apply_labels(0, 0, new, text=f"Propagate from {prev.name}", state=state)
        changed = 0 if diff is None else diff.changed_pixels
        share = float(from_warp.mean())
        source = (f"{share:.0%} from {prev.name}, the rest from the model" if with_model else
                  f"{share:.0%} from {prev.name}; the flow is unsure on the other {1 - share:.0%}")
        self.say(f"Propagated: {changed} pixels changed ({source})" + ("; your edits were kept" if kept else ""),
                 10000)

    # --- forward through K frames --------------------------------------------------------
    def ask_forward(self, k: int | None = None) -> None:
        if k is None:
            k, ok = QInputDialog.getInt(self.win, "Propagate forward", "Propagate this frame's mask through the "
                                        "next K frames:", 10, 1, 10000)
            if not ok:
                return
        self.propagate_forward(k)

    def propagate_forward(self, k: int) -> None:
        from segstudio.core.video import following

        win, doc = self.win, self.win.current
        if doc is None or not doc.loaded or not self.assist._can_edit():
            return
        if self.forward_runner.running():
            self.say("Already propagating forward…")
            return
        frames = following(win.project.images, doc.path, k)
        if not frames:
            self.say(f"{doc.path.name} has no next frame in its sequence")
            return
        win.save_current()
        plans = [self._plan(p) for p in frames]
        pred = win.prediction
        model = pred.model_path
        job = forward_job(self.current_rgb(), doc.labels.copy(), doc.path, plans, doc.ignore_index, self.protect(),
                          (lambda: pred.cache.get(model)) if model is not None else None)
        self.applied = 0
        self._show_dialog(len(frames))
        self.forward_runner.start(job, on_progress=self._forward_progress,
                                  on_succeeded=lambda n: self._forward_done(f"Propagated through {n} frames"),
                                  on_failed=lambda m, _e: self._forward_done(f"Propagation stopped: {m}"),
                                  on_cancelled=lambda: self._forward_done(
                                      f"Propagation cancelled after {self.applied} frames"))

    def _plan(self, path: Path) -> dict:
        """What the worker needs to know of a frame: its mask file, and which pixels are a person's."""
        doc = self.win.docs.get(path)
        steps = () if doc is None else doc.steps[:doc.history_index]
        labels = doc.labels.copy() if doc is not None and doc.loaded else None
        return {"path": path, "mask": self.win.project.mask_path(path), "human": self._human_base(path, doc),
                "steps": steps, "labels": labels, "overwrite": self.act_overwrite.isChecked()}

    def _show_dialog(self, n: int) -> None:
        self.dialog = progress_dialog(self.win, "Propagating…", "Propagate forward", n, self.forward_runner.cancel,
                                      modal=False)

    def _forward_progress(self, i: int, n: int, path: Path, prev: Path, seen, new, kept: bool) -> None:
        d = self.dialog
        if d is not None:
            d.setLabelText(f"Propagated to {path.name} ({i} of {n})")
            d.setValue(i)
        if self.win.project is None or path not in self.win.project.images:
            return
        if apply_frame(self, path, prev, seen, new, kept):
            self.applied += 1

    def _forward_done(self, text: str) -> None:
        if self.dialog is not None:
            self.dialog.close()
            self.dialog = None
        self.say(text, 8000)

    def stop(self) -> None:
        self.runner.stop()
        self.forward_runner.stop()
