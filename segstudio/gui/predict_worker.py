"""Background prediction: a worker object on a QThread that emits plain data.

The worker loads the model (once per checkpoint, cached across runs), decodes
images and runs `segstudio.nets.predictor.Predictor` on them. It never touches
widgets: results travel to the GUI thread through queued signals carrying
paths, numpy arrays and strings. Cancel sets a threading.Event that the
predictor checks between tiles / batches.
"""

from __future__ import annotations

import threading
import traceback
from pathlib import Path

from PySide6.QtCore import QObject, QThread, Signal, Slot

from segstudio.core.errors import SegstudioError
from segstudio.core.jobs import Cancelled


class ModelCache:
    """The last loaded predictor, shared by successive runs (used from one worker at a time)."""

    def __init__(self):
        self.path: Path | None = None
        self.predictor = None
        self.lock = threading.Lock()

    def get(self, path: Path):
        from segstudio.nets.predictor import Predictor

        with self.lock:
            if self.predictor is None or self.path != path:
                self.predictor = None
                self.predictor = Predictor.from_checkpoint(str(path))
                self.path = path
            return self.predictor


def _describe(e: BaseException) -> str:
    if isinstance(e, SegstudioError):
        return str(e)
    msg = f"{type(e).__name__}: {e}"
    if "out of memory" in str(e).lower():
        msg += "\n\nThe image may be too large for this device; try a smaller tile size or the CPU."
    return msg


class PredictWorker(QObject):
    """Runs on a QThread; start with `thread.started.connect(worker.run)`."""

    progress = Signal(int, int, str)      # done, total, what
    imageDone = Signal(str, object)       # image path, HxW uint8 labels
    imageFailed = Signal(str, str)        # image path, message
    failed = Signal(str)                  # fatal error (model could not be loaded ...)
    finished = Signal(bool)               # cancelled?

    def __init__(self, cache: ModelCache, model_path: Path, images: list[Path], cancel: threading.Event,
                 single: bool):
        super().__init__()
        self.cache = cache
        self.model_path = Path(model_path)
        self.images = [Path(p) for p in images]
        self.cancel = cancel
        self.single = single

    @Slot()
    def run(self) -> None:
        cancelled = False
        try:
            self.progress.emit(0, 0, f"loading model {self.model_path.name}")
            predictor = self.cache.get(self.model_path)
            if self.cancel.is_set():
                raise Cancelled()
            if self.single:
                self._run_single(predictor)
            else:
                self._run_batch(predictor)
        except Cancelled:
            cancelled = True
        except Exception as e:  # noqa: BLE001 - everything is reported, the app keeps running
            self.failed.emit(_describe(e))
            traceback.print_exc()
        finally:
            self.finished.emit(cancelled or self.cancel.is_set())

    def _run_single(self, predictor) -> None:
        from segstudio.core.imageio import load_image

        path = self.images[0]
        image = load_image(path)

        def progress(done, total):
            self.progress.emit(done, total, f"{path.name}: tile {done}/{total}")

        labels = predictor.predict(image, cancel=self.cancel, progress=progress)
        self.imageDone.emit(str(path), labels)

    def _run_batch(self, predictor) -> None:
        n = len(self.images)
        done = 0
        self.progress.emit(0, n, "predicting")
        for path, labels, error in predictor.predict_paths(self.images, cancel=self.cancel):
            done += 1
            if error is not None:
                self.imageFailed.emit(str(path), error)
            else:
                self.imageDone.emit(str(path), labels)
            self.progress.emit(done, n, Path(path).name)
            if self.cancel.is_set():
                    raise Cancelled()


class PredictionRun(QObject):
    """Owns a worker and its thread; `cancel()` asks it to stop, `finished` fires once."""

    finished = Signal(bool)

    def __init__(self, cache: ModelCache, model_path: Path, images: list[Path], single: bool, parent=None):
        super().__init__(parent)
        self.cancel_event = threading.Event()
        self.thread = QThread()
        self.worker = PredictWorker(cache, model_path, images, self.cancel_event, single)
        self.worker.moveToThread(self.thread)
        self.thread.started.connect(self.worker.run)
        self.worker.finished.connect(self._done)
        self.single = single

    def start(self) -> None:
        self.thread.start()

    def cancel(self) -> None:
        self.cancel_event.set()

    def _done(self, cancelled: bool) -> None:
        self.thread.quit()
        self.thread.wait()
        self.finished.emit(cancelled)

    def wait(self, ms: int = 30000) -> bool:
        self.cancel_event.set()
        self.thread.quit()
        return self.thread.wait(ms)
