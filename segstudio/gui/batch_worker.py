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

from segstudio.core.batchio import Cancelled
from segstudio.core.errors import SegstudioError


class BatchWorker(QObject):
    progress = Signal(int, int)
    succeeded = Signal(object)
    failed = Signal(str, object)  # message, the exception
    cancelled = Signal()
    finished = Signal()

    def __init__(self, fn: Callable[..., object]):
        super().__init__()
        self.fn = fn
        self.cancel_event = threading.Event()

    def cancel(self) -> None:
        self.cancel_event.set()

    @Slot()
    def run(self) -> None:
        try:
            result = self.fn(progress=lambda i, n: self.progress.emit(int(i), int(n)),
                             cancelled=self.cancel_event.is_set)
        except Cancelled:
            self.cancelled.emit()
        except SegstudioError as e:
            self.failed.emit(str(e), e)
        except Exception as e:  # a bug or an OS error: show it rather than lose it
            if self.cancel_event.is_set() and type(e).__name__ == "Cancelled":
                self.cancelled.emit()
            else:
                self.failed.emit(f"{type(e).__name__}: {e}\n\n{traceback.format_exc(limit=4)}", e)
        else:
            if self.cancel_event.is_set():
                self.cancelled.emit()
            else:
                self.succeeded.emit(result)
        finally:
            self.finished.emit()


class BatchRunner(QObject):
    """Owns one thread + worker at a time; `start(fn)` returns the worker to connect to."""

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.thread: QThread | None = None
        self.worker: BatchWorker | None = None

    def running(self) -> bool:
        return self.thread is not None and self.thread.isRunning()

    def start(self, fn: Callable[..., object]) -> BatchWorker:
        if self.running():
            raise RuntimeError("a batch job is already running")
        thread = QThread(self)
        worker = BatchWorker(fn)
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        worker.finished.connect(thread.quit)
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
