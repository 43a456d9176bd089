"""Per-image precomputation for the assisted tools, on a worker thread: superpixels and the wand's Lab image.

`AssistData.request(key, pixels)` starts computing for the image that was just
opened (a BGRX array as the canvas shows it); a request for another image
cancels the running one between superpixel levels and runs next. `ready(key)`
is emitted on the GUI thread when the data for `key` can be used; until then
the tools say they are waiting. The worker never touches widgets.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject

from .latest_job import LatestJob

if TYPE_CHECKING:  # numpy and OpenCV load with the first superpixels, not at startup
    import numpy as np

    from segstudio.core.assist.superpixels import Superpixels
    from segstudio.core.assist.wand import Wand


def precompute(pixels: np.ndarray):
    """The job: (rgb, superpixels, wand, seconds) for a BGRX image."""
    def job(progress, cancelled):
        import cv2

        from segstudio.core.assist.superpixels import compute_superpixels
        from segstudio.core.assist.wand import Wand

        t = time.perf_counter()
        rgb = cv2.cvtColor(pixels, cv2.COLOR_BGRA2RGB)
        sp = compute_superpixels(rgb, cancelled=cancelled)
        wand = Wand(rgb)
        return rgb, sp, wand, time.perf_counter() - t
    return job


class AssistData(LatestJob):
    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.rgb: np.ndarray | None = None
        self.superpixels: Superpixels | None = None
        self.wand: Wand | None = None
        self.seconds = 0.0

    def is_ready(self, key) -> bool:
        return key is not None and self.key == key and self.superpixels is not None

    def request(self, key, pixels: np.ndarray) -> None:
        """Compute for image `key` (dropping what was computed for another image)."""
        if self.key != key:
            self.key, self.rgb, self.superpixels, self.wand = key, None, None, None
        if not self.is_ready(key):
            self.submit(key, pixels)

    def job(self, pixels):
        return precompute(pixels)

    def store(self, result) -> None:
        self.rgb, self.superpixels, self.wand, self.seconds = result
