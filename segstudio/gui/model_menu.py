"""The Model menu: the installed models (one checkable entry each) above the prediction actions.

`ModelMenu` redraws itself from a `PredictionController` whenever its model
list or selection changes, and keeps the prediction actions' enabled state
and tool tips in step with it (no model, or a prediction running).
`ScaleMenu` is its Prediction Scale submenu: Auto (the scale the model was
trained at, from its card), full resolution or a fixed factor, remembered in
the settings (`predict/scale`) and applied to every studio prediction;
`TtaMenu` (Test-Time Augmentation: off, flip, flip and scales) works the same
way (`predict/tta`).
"""

from __future__ import annotations

from PySide6.QtCore import QSettings
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QLabel, QMenu

from .prediction import PredictionController


class ModelMenu:
    def __init__(self, menu: QMenu, controller: PredictionController, *, load: QAction, predict: QAction,
                 predict_all: QAction, fill_only: QAction, cancel: QAction, train: QAction, label: QLabel,
                 submenus: tuple[QMenu, ...] = ()):
        self.menu, self.controller, self.label, self.submenus = menu, controller, label, submenus
        self.load, self.predict, self.predict_all = load, predict, predict_all
        self.fill_only, self.cancel, self.train = fill_only, cancel, train
        self.group = QActionGroup(menu)
        controller.modelsChanged.connect(self.rebuild)
        controller.busyChanged.connect(lambda _busy: self.update_actions())
        self.rebuild()

    def rebuild(self) -> None:
        m, c = self.menu, self.controller
        m.clear()
        if not c.models:
            m.addAction("(no models found)").setEnabled(False)
        for name, path in c.models:
            a = QAction(name, m, checkable=True)
            a.setData(str(path))
            a.setToolTip(str(path))
            a.setChecked(c.model_path is not None and path == c.model_path)
            a.triggered.connect(lambda _=False, p=path: c.select(p))
            self.group.addAction(a)
            m.addAction(a)
        for part in ((self.load,), (self.predict, self.predict_all, self.fill_only, self.cancel), (self.train,)):
            m.addSeparator()
            for a in part:
                m.addAction(a)
            if self.fill_only in part:
                for sub in self.submenus:
                    m.addMenu(sub)
        self.update_actions()

    def update_actions(self) -> None:
        c = self.controller
        busy, has = c.busy, c.model_path is not None
        tip = "" if has else "No model: choose one in the Model menu or Load Checkpoint…"
        for a, t in ((self.predict, "Predict this image with the selected model"),
                     (self.predict_all, "Predict every image that has no mask yet")):
            a.setEnabled(has and not busy)
            a.setToolTip(t if has else tip)
            a.setStatusTip(a.toolTip())
        self.cancel.setEnabled(busy)
        self.label.setText(f"  model: {c.model_path.stem}" if has else "  no model")
        self.label.setToolTip(str(c.model_path) if has else tip)


class SettingMenu(QMenu):
    """A submenu of exclusive choices (text, value, tool tip), remembered in `settings` under KEY
    (`""` stands for None) and handed to `apply(value)` when chosen and at start-up."""

    KEY = ""

    def __init__(self, title: str, parent, settings: QSettings, choices, apply):
        super().__init__(title, parent)
        self.settings, self.apply = settings, apply
        self.setToolTipsVisible(True)
        group = QActionGroup(self)
        self.choice_actions: dict = {}
        for text, value, tip in choices:
            a = QAction(text, self, checkable=True)
            a.setToolTip(tip)
            a.triggered.connect(lambda _=False, v=value: self.choose(v))
            group.addAction(a)
            self.addAction(a)
            self.choice_actions[value] = a
        self.choose(self._saved(), save=False)

    def parse(self, text: str):
        return text or None

    def _saved(self):
        try:
            value = self.parse(str(self.settings.value(self.KEY, "")))
        except ValueError:
            return None
        return value if value in self.choice_actions else None

    def choose(self, value, save: bool = True) -> None:
        self.choice_actions[value].setChecked(True)
        self.apply(value)
        if save:
            self.settings.setValue(self.KEY, "" if value is None else str(value))


#: (menu text, factor): None = the card's training scale; 1.0 = the image as it is.
SCALES = [("&Auto (the Model's Training Scale)", None), ("&Full Resolution", 1.0), ("0.75×", 0.75),
          ("0.5×", 0.5), ("0.25×", 0.25)]


class ScaleMenu(SettingMenu):
    """Model → Prediction Scale: one exclusive entry per choice in SCALES, persisted in `settings`."""

    KEY = "predict/scale"

    def __init__(self, parent, controller: PredictionController, settings: QSettings):
        choices = [(text, f, "Resize images by the factor the model was trained at (its card)" if f is None
                    else f"Resize images by {f:g} before the network" if f != 1.0
                    else "Predict images at their own size") for text, f in SCALES]
        super().__init__("Prediction &Scale", parent, settings, choices,
                         lambda f: setattr(controller.cache, "scale", f))

    def parse(self, text: str):
        return None if text in ("", "auto") else float(text)


#: (menu text, Predictor.tta, tool tip): figures from benchmarks/bench_tta.py (docs/guide/benchmarks.md).
TTAS = [("&Off", None, "One view of each image"),
        ("&Flip (2× the Time)", "flip", "Average the predictions of the image and its mirror image"),
        ("Flip and &Scales (6× the Time)", "flip+scales",
         "Average the image, its mirror image, and both at 0.75× and 1.25× the working scale")]


class TtaMenu(SettingMenu):
    """Model → Test-Time Augmentation: Off, Flip or Flip and Scales (Predictor.tta), persisted in `settings`."""

    KEY = "predict/tta"

    def __init__(self, parent, controller: PredictionController, settings: QSettings):
        super().__init__("&Test-Time Augmentation", parent, settings, TTAS,
                         lambda v: setattr(controller.cache, "tta", v))
