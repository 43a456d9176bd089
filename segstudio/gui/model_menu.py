"""The Model menu: the installed models (one checkable entry each) above the prediction actions.

`ModelMenu` redraws itself from a `PredictionController` whenever its model
list or selection changes, and keeps the prediction actions' enabled state
and tool tips in step with it (no model, or a prediction running).
`ScaleMenu` is its Prediction Scale submenu: Auto (the scale the model was
trained at, from its card), full resolution or a fixed factor, remembered in
the settings (`predict/scale`) and applied to every studio prediction.
"""

from __future__ import annotations

from PySide6.QtCore import QSettings
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QLabel, QMenu

from .prediction import PredictionController


class ModelMenu:
    def __init__(self, menu: QMenu, controller: PredictionController, *, load: QAction, predict: QAction,
                 predict_all: QAction, fill_only: QAction, cancel: QAction, train: QAction, label: QLabel,
                 scale_menu: QMenu):
        self.menu, self.controller, self.label, self.scale_menu = menu, controller, label, scale_menu
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
                m.addMenu(self.scale_menu)
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


#: (menu text, factor): None = the card's training scale; 1.0 = the image as it is.
SCALES = [("&Auto (the Model's Training Scale)", None), ("&Full Resolution", 1.0), ("0.75×", 0.75),
          ("0.5×", 0.5), ("0.25×", 0.25)]


class ScaleMenu(QMenu):
    """Model → Prediction Scale: one exclusive entry per choice in SCALES, persisted in `settings`."""

    KEY = "predict/scale"

    def __init__(self, parent, controller: PredictionController, settings: QSettings):
        super().__init__("Prediction &Scale", parent)
        self.controller, self.settings = controller, settings
        self.setToolTipsVisible(True)
        group = QActionGroup(self)
        self.scale_actions: dict[float | None, QAction] = {}
        for text, factor in SCALES:
            a = QAction(text, self, checkable=True)
            a.setToolTip("Resize images by the factor the model was trained at (its card)" if factor is None
                         else f"Resize images by {factor:g} before the network" if factor != 1.0
                         else "Predict images at their own size")
            a.triggered.connect(lambda _=False, f=factor: self.set_scale(f))
            group.addAction(a)
            self.addAction(a)
            self.scale_actions[factor] = a
        self.set_scale(self._saved(), save=False)

    def _saved(self) -> float | None:
        text = str(self.settings.value(self.KEY, "auto"))
        try:
            factor = float(text)
        except ValueError:
            return None
        return factor if factor in self.scale_actions else None

    def set_scale(self, factor: float | None, save: bool = True) -> None:
        self.scale_actions[factor].setChecked(True)
        self.controller.cache.scale = factor
        if save:
            self.settings.setValue(self.KEY, "auto" if factor is None else repr(factor))
