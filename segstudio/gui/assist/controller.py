"""AssistController: the assisted tools' actions, their routing of canvas events, and their commits.

Installed by the main window (`self.assist = AssistController(self)`). It adds
an Assist menu (S superpixel brush, W magic wand, M model wand, C GrabCut box,
R re-predict region, K similar region, U confidence heat map, N next low-confidence region, V mark reviewed
and next, with the file list's state filter and confidence order; J / Shift+J propagate a mask
along a video's frames, gui/assist/propagate.py) and File > Open Video… (gui/video_open.py), puts the tool
actions in the window's exclusive tool group, and, while one of its tools is
active, takes the canvas's left-button mouse events and Enter / Esc / `[` / `]`
through an event filter (Alt+click, panning and every other key still reach
the canvas). Every commit is one Document step: `apply_mask` for a region in
the current class (honouring "protect other classes"), `apply_labels` for a
re-predicted box. Work that takes time (superpixels, GrabCut, the model) runs
on JobRunner threads; results come back on the GUI thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDoubleSpinBox, QLabel, QToolBar

from ..canvas import Tool
from ..jobs import JobRunner
from .confidence import ConfidenceView
from .overlay import AssistOverlay
from .review import ReviewQueue
from .service import AssistData
from ..video_open import VideoOpener
from .model_probs import ModelProbs
from .features import FeatureMap
from .propagate import PropagateController
from .similar_tool import TIP as SIMILAR_TIP, SimilarTool
from .tools import BoxTool, ModelWandTool, SuperpixelTool, WandTool

if TYPE_CHECKING:
    import numpy as np

TOOL_KEYS = {"superpixel": "S", "wand": "W", "modelwand": "M", "grabcut": "C", "repredict": "R", "similar": "K"}
TOOL_KEYS_HANDLED = {Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Escape, Qt.Key.Key_BracketLeft,
                     Qt.Key.Key_BracketRight}
MOUSE = {QEvent.Type.MouseButtonPress, QEvent.Type.MouseMove, QEvent.Type.MouseButtonRelease}


class AssistController(QObject):
    def __init__(self, win):
        super().__init__(win)
        self.win, self.canvas = win, win.canvas
        self.overlay = AssistOverlay(self.canvas)
        self.data = AssistData(self)
        self.runner = JobRunner(self)
        self.show_boundaries = True
        self.widget_x = 0.0
        self.tools = {"superpixel": SuperpixelTool(self), "wand": WandTool(self), "modelwand": ModelWandTool(self),
                      "grabcut": BoxTool(self, "grabcut"), "repredict": BoxTool(self, "repredict"),
                      "similar": SimilarTool(self)}
        self.active = None
        self._pressed = False
        self.press_xy: tuple[float, float] = (0.0, 0.0)  # image point of the last press on the canvas
        # Superpixels compete with the brush for the GIL while they compute, so they are
        # computed on image open only once an assisted tool has been used in this session.
        self.eager = False
        self.confidence = ConfidenceView(self)
        self.review = ReviewQueue(win)
        self._build_actions()
        self.data.ready.connect(self._data_ready)
        self.data.failed.connect(lambda m: self.say(f"Superpixels failed: {m}"))
        self.probs = ModelProbs(self)
        self.probs.ready.connect(self._probs_ready)
        self.probs.failed.connect(lambda m: self.say(f"The model wand's prediction failed: {m}"))
        self._model_wand = None
        self.propagate = PropagateController(self)  # J / Shift+J: masks along a video's frames
        self.video = VideoOpener(win)  # File > Open Video… (frames extracted into a folder)
        self.features = FeatureMap(self)  # the similar-region click's pretrained features
        self.features.ready.connect(self._probs_ready)
        self.features.failed.connect(lambda m: self.say(f"The similar-region features failed: {m}"))
        self._similar = None
        win.prediction.modelsChanged.connect(self._model_changed)
        win.imageOpened.connect(self.image_opened)
        self.canvas.installEventFilter(self)
        win.installEventFilter(self)  # stop the worker threads when the window closes

    # --- actions ---------------------------------------------------------------------
    def _build_actions(self) -> None:
        win = self.win
        menu = self.menu = win.menuBar().addMenu("&Assist")
        self.actions: dict[str, QAction] = {}
        tips = {"superpixel": "Paint whole superpixels; [ / ] coarser / finer",
                "wand": "Grow a region of similar colour; drag sideways for tolerance, release commits",
                "modelwand": "Click: the superpixels around it where the model gives the current class at least "
                             "the tolerance (a probability); drag sideways for tolerance, release commits",
                "grabcut": "Drag a box around an object; Shift/Ctrl-drag hints; Enter commits",
                "repredict": "Drag a box: the model predicts it again (with context around it) and replaces its labels",
                "similar": SIMILAR_TIP}
        for name, tool in self.tools.items():
            a = QAction(tool.text, win, checkable=True)
            a.setShortcut(QKeySequence(TOOL_KEYS[name]))
            a.setToolTip(f"{tips[name]} ({TOOL_KEYS[name]})")
            a.setStatusTip(a.toolTip())
            a.toggled.connect(lambda on, n=name: self.activate(n if on else None, from_action=True))
            win.tool_group.addAction(a)
            win.addAction(a)
            menu.addAction(a)
            self.actions[name] = a
        menu.addSeparator()
        for a in self.confidence.actions() + self.review.actions():
            win.addAction(a)
            menu.addAction(a)
        self.tolerance_spin = QDoubleSpinBox()
        self.tolerance_spin.setRange(0.0, 200.0)
        self.tolerance_spin.setValue(12.0)
        self.tolerance_spin.setToolTip("Magic wand tolerance (Lab colour distance); drag sideways to change")
        self.tolerance_spin.valueChanged.connect(lambda _v: self.tools["wand"].tolerance_changed())
        bar = win.findChild(QToolBar, "tools-toolbar")
        if bar is not None:
            bar.addSeparator()
            for a in self.actions.values():
                bar.addAction(a)
            bar.addWidget(QLabel(" Tolerance "))
            bar.addWidget(self.tolerance_spin)

    def activate(self, name: str | None, from_action: bool = False) -> None:
        if self.active is not None and (name is None or self.active.name != name):
            if from_action and name is None and self.actions[self.active.name].isChecked():
                return
            self.active.deactivate()
            self.active = None
        if name is None:
            return
        if not self.actions[name].isChecked():
            self.actions[name].setChecked(True)  # toggled -> activate again, from_action
            return
        if self.active is None:
            self.canvas.set_tool(Tool.FILL)  # no brush cursor under an assisted tool
            self.active = self.tools[name]
            self.warm_up()
            self.active.activate()

    # --- per image -------------------------------------------------------------------
    def image_opened(self, path) -> None:
        if self.active is not None:
            self.active.deactivate()
            self.active.activate()
        if self.eager:
            self._request(path)
        self.confidence.image_opened(path)

    def warm_up(self) -> None:
        """From now on compute superpixels and the wand's data whenever an image opens."""
        if not self.eager:
            self.eager = True
            if self.win.current is not None:
                self._request(self.win.current.path)

    def _request(self, path) -> None:
        pixels = getattr(self.canvas, "_pixels", None)
        if pixels is not None:
            self.data.request(path, pixels)

    def _data_ready(self, key) -> None:
        # Only while an assisted tool is in use: the status bar carries other news otherwise.
        if self.canvas.doc is None or self.canvas.doc.path != key or self.active is None:
            return
        self.say(f"Superpixels and wand ready ({self.data.seconds:.1f} s)")
        self.active.data_ready()

    def _probs_ready(self, key) -> None:
        # key = (image, model, prediction scale, test-time augmentation): the model wand is told if it is
        # still in use on that image
        if self.canvas.doc is not None and self.canvas.doc.path == key[0] and self.active is not None:
            self.active.data_ready()

    def current_key(self):
        return self.canvas.doc.path if self.canvas.doc is not None else None

    def superpixels(self):
        return self.data.superpixels if self.data.is_ready(self.current_key()) else None

    def wand(self):
        return self.data.wand if self.data.is_ready(self.current_key()) else None

    def model_wand(self):
        """The current image's ModelWand, or None (then the status bar says why, and the model's
        probabilities are requested when the superpixels are ready)."""
        from segstudio.core.assist.model_wand import ModelWand

        sp, model = self.superpixels(), self.win.prediction.model_path
        if model is None:
            self.say("Choose a model first (Model menu)")
            return None
        if sp is None:
            self.say("Superpixels are still being computed for this image…")
            return None
        cache = self.win.prediction.cache
        key = (self.current_key(), model, cache.scale, cache.tta)  # Model > Prediction Scale, Test-Time Aug.
        probs = self.probs.get(key)
        if probs is None:
            self.say(self.probs.request(key, self.rgb(), self.win.prediction), 0)
            return None
        if self._model_wand is None or self._model_wand.probs is not probs or self._model_wand.sp is not sp:
            self._model_wand = ModelWand(probs, sp)
        return self._model_wand

    def _model_changed(self) -> None:
        """The similar-region click needs an fcn8s-lite0 model: disabled, saying why, with another one."""
        from .similar_tool import feature_problem

        problem = feature_problem(self.win.prediction.model_path)
        a = self.actions["similar"]
        a.setEnabled(problem is None)
        a.setToolTip(f"{SIMILAR_TIP} (K)" if problem is None else f"Similar region: {problem}")
        a.setStatusTip(a.toolTip())
        if problem is not None and self.active is self.tools["similar"]:
            a.setChecked(False)

    def similar_region(self):
        """The current image's SimilarRegion, or None (then the status bar says why, and the features are
        requested)."""
        from segstudio.core.assist.similar_region import SimilarRegion

        sp, model = self.superpixels(), self.win.prediction.model_path
        if model is None:
            self.say("Choose an fcn8s-lite0 model first (Model menu)")
            return None
        if sp is None:
            self.say("Superpixels are still being computed for this image…")
            return None
        key = (self.current_key(), model, self.win.prediction.cache.scale)
        features = self.features.get(key)
        if features is None:
            self.say(self.features.request(key, self.rgb(), self.win.prediction), 0)
            return None
        if self._similar is None or self._similar.features is not features or self._similar.sp is not sp:
            self._similar = SimilarRegion(features, sp)
        return self._similar

    def rgb(self):
        return self.data.rgb if self.data.is_ready(self.current_key()) else None

    def tolerance(self) -> float:
        return float(self.tolerance_spin.value())

    def set_tolerance(self, value: float) -> None:
        self.tolerance_spin.blockSignals(True)
        self.tolerance_spin.setValue(value)
        self.tolerance_spin.blockSignals(False)

    def class_color(self) -> tuple[int, int, int]:
        ls = self.canvas.labelset
        return tuple(ls.colors[self.canvas.current_class]) if ls is not None else (255, 255, 0)

    def say(self, text: str, ms: int = 5000) -> None:
        self.win.statusBar().showMessage(text, ms)

    # --- events ----------------------------------------------------------------------
    def eventFilter(self, obj, event) -> bool:
        if obj is self.win and event.type() == QEvent.Type.Close:
            self.stop()
            return False
        if obj is not self.canvas or self.active is None:
            return False
        t = event.type()
        if t in MOUSE:
            return self._mouse(event)
        if t == QEvent.Type.ShortcutOverride and event.key() in TOOL_KEYS_HANDLED:
            event.accept()  # [ ] Enter Esc go to the tool, not to the window's shortcuts
            return True
        if t == QEvent.Type.KeyPress and event.key() in TOOL_KEYS_HANDLED:
            return self.active.key(event.key())
        return False

    def _mouse(self, event) -> bool:
        t = event.type()
        pos = event.position()
        self.widget_x = pos.x()
        x, y = self.canvas.to_image(pos)
        if t == QEvent.Type.MouseButtonPress:
            if (event.button() != Qt.MouseButton.LeftButton or getattr(self.canvas, "_space", False)
                    or event.modifiers() & Qt.KeyboardModifier.AltModifier or not self._can_edit()):
                return False
            self._pressed = True
            self.press_xy = (x, y)
            self.active.press(x, y, event.modifiers())
            return True
        if t == QEvent.Type.MouseMove and self._pressed:
            self.active.move(x, y)
            return True
        if t == QEvent.Type.MouseButtonRelease and self._pressed and event.button() == Qt.MouseButton.LeftButton:
            self._pressed = False
            self.active.release(x, y)
            return True
        return False

    def _can_edit(self) -> bool:
        c = self.canvas
        if not c.has_image() or not c.editable:
            return False
        if c.show_gt and c.gt is not None:
            self.say("Showing ground truth: turn off View > Show ground truth to edit")
            return False
        return True

    # --- commits and workers -----------------------------------------------------------
    def commit_mask(self, bbox, mask: np.ndarray, text: str, at: tuple[float, float] | None = None):
        """Paint `mask` (at bbox's corner) with the current class as one step; `at`: where the action
        started, for "the class under the press" protection (default: the last press)."""
        doc = self.canvas.doc
        if doc is None or doc.labels is None:
            return None
        return doc.apply_mask(mask, self.canvas.current_class, protect=self._protect(at), text=text,
                              origin=(bbox[0], bbox[1]))

    def commit_labels(self, x0: int, y0: int, labels: np.ndarray, text: str, at: tuple[float, float] | None = None):
        doc = self.canvas.doc
        if doc is None or doc.labels is None:
            return None
        return doc.apply_labels(x0, y0, labels, protect=self._protect(at), text=text)

    def _protect(self, at):
        return self.canvas.protect_at(*(at or self.press_xy))

    def run_grabcut(self, box, fg, bg, done) -> None:
        from segstudio.core.assist.grabcut import grabcut_box

        rgb = self.rgb()
        if rgb is None or self.runner.running():
            self.say("Still preparing this image…" if rgb is None else "GrabCut is busy…")
            return
        self.say("GrabCut…", 0)
        self.runner.start(lambda progress, cancelled: grabcut_box(rgb, box, fg_hint=fg, bg_hint=bg),
                          on_succeeded=done, on_failed=lambda m, _e: self.say(f"GrabCut failed: {m}"))

    def run_repredict(self, box, done) -> None:
        rgb, pred = self.rgb(), self.win.prediction
        if pred.model_path is None:
            self.say("Choose a model first (Model menu)")
            return
        if rgb is None or self.runner.running():
            self.say("Still preparing this image…" if rgb is None else "Busy…")
            return
        from segstudio.nets.region_predict import predict_box

        path = pred.model_path
        self.say(f"Predicting the box with {path.stem}…", 0)
        self.runner.start(lambda progress, cancelled: predict_box(pred.cache.get(path), rgb, box,
                                                                  cancelled=cancelled),
                          on_succeeded=done, on_failed=lambda m, _e: self.say(f"Re-predict failed: {m}"))

    def stop(self) -> None:
        self.runner.stop()
        self.data.stop()
        self.probs.stop()
        self.features.stop()
        self.confidence.stop()
        self.propagate.stop()
        self.video.stop()

