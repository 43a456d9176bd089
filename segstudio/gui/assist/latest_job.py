"""`LatestJob`: compute something per image on a worker thread, always for the newest image asked.

The assisted tools' per-image data (superpixels, the model's probabilities)
follow the image on screen: a request for another key cancels the running job
and runs next, a request for the key already running or done does nothing.
Subclasses give the job (`job(*args)`, the JobRunner signature) and keep its
result (`store(result)`); `ready(key)` is emitted on the GUI thread once the
result for the current key is stored. The worker never touches widgets.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from ..jobs import JobRunner


class LatestJob(QObject):
    ready = Signal(object)  # the key whose result is stored
    failed = Signal(str)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.runner = JobRunner(self)
        self.key = None
        self._running_key = None
        self._pending: tuple | None = None

    def job(self, *args):
        raise NotImplementedError

    def store(self, result) -> None:
        raise NotImplementedError

    def submit(self, key, *args) -> None:
        """Compute for `key` unless that is already running; a running job for another key is cancelled first."""
        if self._running_key == key:
            return
        if self.runner.running():
            self.runner.cancel()
            self._pending = (key, *args)
            return
        self._start(key, *args)

    def _start(self, key, *args) -> None:
        self._running_key = key
        self.runner.start(self.job(*args), on_succeeded=lambda r, k=key: self._done(k, r),
                          on_failed=lambda message, _e: self.failed.emit(message),
                          on_finished=self._next)

    def _done(self, key, result) -> None:
        if key == self.key:
            self.store(result)
            self.ready.emit(key)

    def _next(self) -> None:
        self._running_key = None
        pending, self._pending = self._pending, None
        if pending is not None and pending[0] == self.key:
            self._start(*pending)

    def stop(self) -> None:
        self._pending = None
        self.runner.stop()
