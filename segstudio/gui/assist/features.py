"""The pretrained features of the image on screen, for the similar-region click, on a worker thread.

`FeatureMap.request(key, rgb, prediction)` computes nets.features.
pretrained_features with the studio's current model (an fcn8s-lite0) and emits
`ready(key)` on the GUI thread; `get(key)` then returns the C x h x w map. Like
the model wand's probabilities (model_probs.py): a request for another image
or model drops the old map and cancels a running job.
"""

from __future__ import annotations

from PySide6.QtCore import QObject

from .latest_job import LatestJob


class FeatureMap(LatestJob):
    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.features = None

    def get(self, key):
        return self.features if key is not None and key == self.key else None

    def request(self, key, rgb, prediction) -> str:
        """Start computing for `key` = (image path, model path, prediction scale) if needed; a status text."""
        if self.key != key:
            self.key, self.features = key, None
        if self.features is not None:
            return "ready"
        self.submit(key, key[1], rgb, prediction)
        return f"Computing {key[1].stem}'s features of this image for the similar-region click…"

    def job(self, model_path, rgb, prediction):
        from segstudio.nets.features import pretrained_features

        return lambda progress, cancelled: pretrained_features(prediction.cache.get(model_path), rgb, cancelled)

    def store(self, result) -> None:
        self.features = result
