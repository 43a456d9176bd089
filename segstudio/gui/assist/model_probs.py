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

from PySide6.QtCore import QObject

from .latest_job import LatestJob

if TYPE_CHECKING:
    import numpy as np


class ModelProbs(LatestJob):
    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.probs: np.ndarray | None = None

    def get(self, key):
        return self.probs if key is not None and key == self.key else None

    def request(self, key, rgb: np.ndarray, prediction) -> str:
        """Start computing for `key` = (image path, model path, prediction scale, test-time augmentation)
        if needed; a status-bar text."""
        if self.key != key:
            self.key, self.probs = key, None
        if self.probs is not None:
            return "ready"
        self.submit(key, key[1], rgb, prediction)
        return f"The model wand is predicting this image with {key[1].stem}…"

    def job(self, model_path, rgb, prediction):
        from segstudio.nets.uncertainty import working_probabilities

        return lambda progress, cancelled: working_probabilities(prediction.cache.get(model_path), rgb, cancelled)

    def store(self, result) -> None:
        self.probs = result
