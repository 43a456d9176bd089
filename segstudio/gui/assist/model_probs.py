"""The model's probabilities of the image on screen, for the model wand, computed on a worker thread.

`ModelProbs.request(key, rgb, prediction)` predicts the image with the
studio's current model at its working scale (nets.uncertainty.
working_probabilities: K planes at the model's resolution, not the image's) and
emits `ready(key)` on the GUI thread; `get(key)` then returns them. A request
for another image or model drops the old result and cancels a running job,
which the newest request then replaces. The worker never touches widgets.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from ..jobs import JobRunner

if TYPE_CHECKING:
    import numpy as np


class ModelProbs(QObject):
    ready = Signal(object)  # the key whose probabilities are ready
    failed = Signal(str)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.runner = JobRunner(self)
        self.key = None
        self.probs: np.ndarray | None = None
        self._running_key = None
        self._pending: tuple | None = None

    def get(self, key):
        return self.probs if key is not None and key == self.key else None

    def request(self, key, rgb: np.ndarray, prediction) -> str:
        """Start computing for `key` = (image path, model path, prediction scale) if needed; a status-bar text."""
        if self.key != key:
            self.key, self.probs = key, None
        if self.probs is not None:
            return "ready"
        if self._running_key != key:
            if self.runner.running():
                self.runner.cancel()
                self._pending = (key, rgb, prediction)
            else:
                self._start(key, rgb, prediction)
        return f"The model wand is predicting this image with {key[1].stem}…"

    def _start(self, key, rgb, prediction) -> None:
        from segstudio.nets.uncertainty import working_probabilities

        self._running_key = key
        path = key[1]
        self.runner.start(lambda progress, cancelled: working_probabilities(prediction.cache.get(path), rgb,
                                                                            cancelled),
                          on_succeeded=lambda probs, k=key: self._done(k, probs),
                          on_failed=lambda message, _e: self.failed.emit(message),
                          on_finished=self._next)

    def _done(self, key, probs) -> None:
        if key == self.key:
            self.probs = probs
            self.ready.emit(key)

    def _next(self) -> None:
        self._running_key = None
        pending, self._pending = self._pending, None
        if pending is not None and pending[0] == self.key:
            self._start(*pending)

    def stop(self) -> None:
        self._pending = None
        self.runner.stop()
