"""Confidence in the studio: a heat overlay (U) and a jump to the next largest low-confidence region (N).

The confidence of an image is the saved map beside its mask (core.assist.
confidence_store): a single-image prediction saves it with the mask; a new
prediction drops a stale one; when it is missing, the selected model predicts
the image once on a worker thread (softmax margin, see nets.uncertainty), and
the map is saved there so it survives reopening. `fill_missing` does that for
the images of a review queue ordered by confidence. N
centres the view on the largest low-confidence region not yet visited (then the
next, and round again).
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QKeySequence

from ..jobs import JobRunner

if TYPE_CHECKING:  # numpy and OpenCV load when a confidence map is first used, not at startup
    import numpy as np

#: Below this (0..1) a pixel counts as low-confidence.
THRESHOLD = 0.5
#: Forward passes of the Monte-Carlo dropout option.
MC_SAMPLES = 8
#: The heat map is drawn from a copy of at most this many pixels.
DISPLAY_PIXELS = 2_000_000


def fill_missing_job(cache, model: Path, masks_dir: Path, images: list[Path]):
    """Compute and save the confidence of each image (that has a mask but no saved confidence)."""
    def job(progress, cancelled):
        predictor = cache.get(model)  # loading a model takes time: on the worker
        from segstudio.core.assist.confidence_store import save_confidence, to_uint8
        from segstudio.core.imageio import load_image
        from segstudio.core.jobs import check_cancel

        for i, path in enumerate(images):
            check_cancel(cancelled)
            progress(i, len(images), path.name)
            save_confidence(masks_dir, path.stem, to_uint8(_margin(predictor, load_image(path))))
        return len(images)
    return job


def _margin(predictor, rgb: np.ndarray) -> np.ndarray:
    """The softmax margin, without full-size probabilities (tiled images take it tile by tile)."""
    return predictor.predict_confidence(rgb)[1]


def confidence_job(cache, model: Path, rgb: np.ndarray, mc_samples: int = 0):
    """uint8 confidence: the softmax margin, or with `mc_samples` Monte-Carlo dropout when the model has dropout."""
    def job(progress, cancelled):
        predictor = cache.get(model)
        from segstudio.core.assist.confidence_store import to_uint8
        from segstudio.nets.uncertainty import has_dropout, mc_dropout

        if mc_samples and has_dropout(predictor.model):
            return to_uint8(mc_dropout(predictor, rgb, samples=mc_samples, cancelled=cancelled)[1])
        return to_uint8(_margin(predictor, rgb))
    return job


class ConfidenceView(QObject):
    def __init__(self, ctl):
        super().__init__(ctl)
        self.ctl = ctl
        self.runner = JobRunner(self)
        self.path: Path | None = None
        self.conf: np.ndarray | None = None
        self.regions = None
        self.next_index = 0
        self._pending_fill: tuple[list[Path], object] | None = None  # a fill_missing asked for while busy
        win = ctl.win
        self.act_heat = QAction("Confidence &Heat Map", win, checkable=True)
        self.act_heat.setShortcut(QKeySequence("U"))
        self.act_heat.setToolTip("Show the model's per-pixel confidence as a heat map (U)")
        self.act_heat.toggled.connect(self.show_heat)
        self.act_next = QAction("Next &Low-Confidence Region", win)
        self.act_next.setShortcut(QKeySequence("N"))
        self.act_next.setToolTip("Centre the view on the next largest low-confidence region (N)")
        self.act_next.triggered.connect(self.next_region)
        self.act_mc = QAction(f"Confidence by Monte-Carlo Dropout ({MC_SAMPLES} samples)", win, checkable=True)
        self.act_mc.setToolTip("For models with dropout (FCN-8s): the spread of several dropout passes, "
                               "as Bayesian SegNet; other models use the softmax margin")
        self.act_mc.toggled.connect(self.method_changed)
        win.prediction.confidenceReady.connect(self.predicted_confidence)
        win.prediction.imagePredicted.connect(self.predicted_labels)

    def actions(self) -> list[QAction]:
        return [self.act_heat, self.act_next, self.act_mc]

    def method_changed(self, _on: bool) -> None:
        """Another method: recompute the current image's confidence (and save it) when it is shown."""
        from segstudio.core.assist.confidence_store import confidence_path

        self.conf, self.regions, self.next_index = None, None, 0
        masks = self._masks_dir()
        if masks is not None and self.path is not None:
            with contextlib.suppress(OSError):  # a folder in its place: read_confidence ignores it
                confidence_path(masks, self.path.stem).unlink(missing_ok=True)
        if self.act_heat.isChecked():
            self.ensure(self._show)

    def image_opened(self, path) -> None:
        self.path, self.conf, self.regions, self.next_index = Path(path), None, None, 0
        pred = self.ctl.win.prediction
        pred.masks_dir, pred.shown = self._masks_dir(), self.path  # a prediction saves maps there, on its worker
        self.ctl.overlay.set_heat(None)
        if self.act_heat.isChecked():
            self.ensure(self._show)

    def _masks_dir(self) -> Path | None:
        project = self.ctl.win.project
        return project.masks_dir if project is not None else None

    def ensure(self, then) -> None:
        """Load or compute the current image's confidence, then call `then()`."""
        from segstudio.core.assist.confidence_store import read_confidence

        if self.conf is not None:
            then()
            return
        labels = self.ctl.canvas.labels
        masks = self._masks_dir()
        if labels is None or self.path is None:
            return
        problem = None
        if masks is not None:
            self.conf, problem = read_confidence(masks, self.path.stem, size=(labels.shape[1], labels.shape[0]))
            if self.conf is not None:
                then()
                return
        pred, rgb = self.ctl.win.prediction, self.ctl.rgb()
        if pred.model_path is None or rgb is None or self.runner.running() or pred.busy:
            self.ctl.say("No confidence yet: choose a model, and wait until the image is prepared"
                         if not self.runner.running() else "Computing confidence…")
            return
        path, model = self.path, pred.model_path
        self.ctl.say((f"{problem}; computing it again with {model.stem}…" if problem
                      else f"Computing confidence with {model.stem}…"), 0)
        mc = MC_SAMPLES if self.act_mc.isChecked() else 0
        self.runner.start(confidence_job(pred.cache, model, rgb, mc),
                          on_succeeded=lambda conf: self._computed(path, conf, then),
                          on_failed=lambda m, _e: self.ctl.say(f"Confidence failed: {m}"),
                          on_finished=self._after_job)

    def _computed(self, path: Path, conf: np.ndarray, then) -> None:
        from segstudio.core.assist.confidence_store import save_confidence

        if path != self.path:
            return
        self.conf = conf
        masks = self._masks_dir()
        if masks is not None:
            try:
                save_confidence(masks, path.stem, conf)
            except OSError as e:
                self.ctl.say(f"Confidence not saved: {e}")
        then()

    def show_heat(self, on: bool) -> None:
        if not on:
            self.ctl.overlay.set_heat(None)
            return
        self.ensure(self._show)

    def _show(self) -> None:
        import cv2

        if not self.act_heat.isChecked() or self.conf is None:
            return
        h, w = self.conf.shape
        f = min(1.0, (DISPLAY_PIXELS / (h * w)) ** 0.5)
        shown = self.conf if f == 1.0 else cv2.resize(self.conf, (max(1, int(w * f)), max(1, int(h * f))),
                                                      interpolation=cv2.INTER_AREA)
        self.ctl.overlay.set_heat(shown)
        self.ctl.say(f"Mean confidence {self.conf.mean() / 255:.0%}")

    def next_region(self) -> None:
        self.ensure(self._jump)

    def _jump(self) -> None:
        from segstudio.core.assist.regions import low_confidence_regions

        if self.regions is None:
            self.regions = low_confidence_regions(self.conf, THRESHOLD)
        if not self.regions:
            self.ctl.say("No low-confidence region in this image")
            return
        r = self.regions[self.next_index % len(self.regions)]
        self.next_index += 1
        c = self.ctl.canvas
        at = c.to_widget(*r.center)
        c.pan_by(c.width() / 2 - at.x(), c.height() / 2 - at.y())
        self.ctl.say(f"Low-confidence region {(self.next_index - 1) % len(self.regions) + 1} of "
                     f"{len(self.regions)}: {r.area} px, mean confidence {r.mean_confidence:.0%}")

    def predicted_labels(self, path: Path, _labels) -> None:
        """A new prediction makes the old confidence stale (the prediction job replaced or dropped the file)."""
        if Path(path) == self.path:
            self.conf, self.regions, self.next_index = None, None, 0
            self.ctl.overlay.set_heat(None)

    def predicted_confidence(self, path: Path, conf: np.ndarray) -> None:
        """The confidence of the image on screen, already saved by the prediction job."""
        if Path(path) == self.path:
            self.conf, self.regions, self.next_index = conf, None, 0
            self._show()

    def fill_missing(self, images: list[Path], then) -> bool:
        """Compute, on a worker thread, the confidence of masked images that have none; then `then()`.
        While another confidence job runs, the request waits for it to end. False if there is nothing to
        do or no model to do it with."""
        from segstudio.core.assist.confidence_store import has_confidence

        project, pred = self.ctl.win.project, self.ctl.win.prediction
        if project is None or pred.model_path is None:
            return False
        if self.runner.running():  # done when the running job ends (the latest request wins)
            self._pending_fill = (images, then)
            return True
        todo = [p for p in images if project.has_mask(p) and not has_confidence(project.masks_dir, p.stem)]
        if not todo:
            return False
        model = pred.model_path
        self.runner.start(fill_missing_job(pred.cache, model, project.masks_dir, todo),
                          on_progress=lambda i, n, name: self.ctl.say(f"Confidence {i + 1}/{n}: {name}", 0),
                          on_succeeded=lambda n: (self.ctl.say(f"Confidence computed for {n} images"), then()),
                          on_failed=lambda m, _e: self.ctl.say(f"Confidence failed: {m}"),
                          on_finished=self._after_job)
        return True

    def _after_job(self) -> None:
        pending, self._pending_fill = self._pending_fill, None
        if pending is not None:
            self.fill_missing(*pending)

    def stop(self) -> None:
        self.runner.stop()
