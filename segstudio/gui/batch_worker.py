"""Running a batch library function (export, import, evaluation) on a QThread.

The function is called as `fn(progress=cb, cancelled=cb)`, the signature every
batch function in segstudio.core takes. The worker never touches widgets: it
emits progress counts, the result object, or an error message, and the GUI
thread reacts. `cancel()` is safe to call from the GUI thread at any time.
"""

from __future__ import annotations

import threading
import traceback
from typing import Callable

from PySide6.QtCore import QObject, QThread, Signal, Slot

from segstudio.core.jobs import Cancelled
from segstudio.core.errors import SegstudioError


class BatchWorker(QObject):
    progress = Signal(int, int)
    succeeded = Signal(object)
    failed = Signal(str, object)  # message, the exception
    cancelled = Signal()
    finished = Signal()

    def __init__(self, fn: Callable[..., object], active: threading.Event | None = None):
        super().__init__()
        self.fn = fn
        self.cancel_event = threading.Event()
        self.active = active or threading.Event()

    def cancel(self) -> None:
        self.cancel_event.set()

    @Slot()
    def run(self) -> None:
        outcome: tuple = ("cancelled",)
        try:
            result = self.fn(progress=lambda i, n: self.progress.emit(int(i), int(n)),
                             cancelled=self.cancel_event.is_set)
        except Cancelled:
            pass
        except SegstudioError as e:
            outcome = ("failed", str(e), e)
        except Exception as e:  # a bug or an OS error: show it rather than lose it
            outcome = ("failed", f"{type(e).__name__}: {e}\n\n{traceback.format_exc(limit=4)}", e)
        else:
            if not self.cancel_event.is_set():
                outcome = ("succeeded", result)
        # no longer running as far as the GUI is concerned, before it hears the outcome
        self.active.clear()
        if outcome[0] == "succeeded":
            self.succeeded.emit(outcome[1])
        elif outcome[0] == "failed":
            self.failed.emit(outcome[1], outcome[2])
        else:
            self.cancelled.emit()
        self.finished.emit()


class BatchRunner(QObject):
    """Owns one thread + worker at a time.

    `start` connects the handlers before the thread starts: a job that finishes
    at once must not emit its outcome before anyone listens.
    """

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.thread: QThread | None = None
        self.worker: BatchWorker | None = None
        self._active = threading.Event()

    def running(self) -> bool:
        """True until the job's function has returned (the thread may still be winding down)."""
        return self._active.is_set()

    def start(self, fn: Callable[..., object], *, on_progress: Callable[[int, int], None],
              on_succeeded: Callable[[object], None], on_failed: Callable[[str, object], None],
              on_cancelled: Callable[[], None]) -> BatchWorker:
        if self.running():
            raise RuntimeError("a batch job is already running")
        if self.thread is not None:
            self.thread.wait(5000)  # the previous job has returned; let its thread finish
        thread = QThread(self)
        self._active.set()
        worker = BatchWorker(fn, self._active)
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        worker.finished.connect(thread.quit)
        worker.progress.connect(on_progress)
        worker.succeeded.connect(on_succeeded)
        worker.failed.connect(on_failed)
        worker.cancelled.connect(on_cancelled)
        self.thread, self.worker = thread, worker
        thread.start()
        return worker

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.cancel()

    def stop(self, timeout_ms: int = 30000) -> None:
        """Cancel and wait for the thread (used when a dialog closes)."""
        self.cancel()
        if self.thread is not None:
            self.thread.quit()
            self.thread.wait(timeout_ms)
