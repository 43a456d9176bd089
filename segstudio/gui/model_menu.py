"""The Model menu: the installed models (one checkable entry each) above the prediction actions.

`ModelMenu` redraws itself from a `PredictionController` whenever its model
list or selection changes, and keeps the prediction actions' enabled state
and tool tips in step with it (no model, or a prediction running).
"""

from __future__ import annotations

from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QLabel, QMenu

from .prediction import PredictionController


class ModelMenu:
    def __init__(self, menu: QMenu, controller: PredictionController, *, load: QAction, predict: QAction,
                 predict_all: QAction, fill_only: QAction, cancel: QAction, train: QAction, label: QLabel):
        self.menu, self.controller, self.label = menu, controller, label
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
