"""The one way the studio runs work off the GUI thread: `JobRunner`.

A job is a function called on a QThread as `fn(progress=..., cancelled=...)`,
the signature of every batch function in segstudio (exports, imports,
evaluation); prediction, training and the model scan are written the same
way. `progress(*args)` reaches the GUI thread as `on_progress(*args)`, so a
job may report counts `(i, n)`, a text, or whole objects such as the trainer's
progress records or one predicted image. `cancelled()` turns true after
`cancel()`; a job stops by raising `core.jobs.Cancelled` (the only
cancellation exception) or by returning what it has (the trainer returns a
result that says it was cancelled). The worker never touches widgets: the outcome comes
back as exactly one of on_succeeded(result), on_failed(message, exception) or
on_cancelled(), then on_finished().
"""

from __future__ import annotations

import threading
import traceback
from typing import Callable

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from segstudio.core.errors import SegstudioError
from segstudio.core.jobs import Cancelled


class CancelFlag:
    """The `cancelled` callback as the object with `is_set()` that the predictor and trainer take."""

    def __init__(self, cancelled: Callable[[], bool]):
        self.is_set = cancelled


def describe_error(e: BaseException) -> str:
    """A user's error as its message; anything else with its type and where it came from."""
    if isinstance(e, SegstudioError):
        return str(e)
    text = f"{type(e).__name__}: {e}"
    if "out of memory" in str(e).lower():
        return text + "\n\nThe image may be too large for this device; try a smaller tile size or the CPU."
    return f"{text}\n\n{traceback.format_exc(limit=4)}"


class _Worker(QObject):
    progress = Signal(object)
    succeeded = Signal(object)
    failed = Signal(str, object)  # message, the exception
    cancelled = Signal()
    finished = Signal()

    def __init__(self, fn: Callable[..., object], cancel_event: threading.Event, active: threading.Event):
        super().__init__()
        self.fn = fn
        self.cancel_event = cancel_event
        self.active = active

    @Slot()
    def run(self) -> None:
        outcome: tuple = ("cancelled",)
        try:
            result = self.fn(progress=lambda *args: self.progress.emit(args), cancelled=self.cancel_event.is_set)
        except Cancelled:
            pass
        except Exception as e:  # noqa: BLE001 - reported to the user, the studio keeps running
            outcome = ("failed", describe_error(e), e)
        else:  # a job that returned has finished, even if Cancel came at its last step
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


def _ignore(*_args) -> None:
    pass


class _Relay(QObject):
    """Lives on the GUI thread: the worker's signals reach the handlers here, queued."""

    def __init__(self, parent: QObject, handlers: dict[str, Callable]):
        super().__init__(parent)
        self.h = handlers

    @Slot(object)
    def progress(self, args: tuple) -> None:
        self.h["progress"](*args)

    @Slot(object)
    def succeeded(self, result) -> None:
        self.h["succeeded"](result)

    @Slot(str, object)
    def failed(self, message: str, error) -> None:
        self.h["failed"](message, error)

    @Slot()
    def cancelled(self) -> None:
        self.h["cancelled"]()

    @Slot()
    def finished(self) -> None:
        self.h["finished"]()


class JobRunner(QObject):
    """Runs one job at a time on its own QThread; see the module docstring.

    The handlers are connected before the thread starts (a job that ends at
    once must not report before anyone listens), and the thread quits from the
    worker itself, so `stop()` can wait for it without running the event loop.
    """

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.thread: QThread | None = None
        self._worker: _Worker | None = None
        self._cancel = threading.Event()
        self._active = threading.Event()

    def running(self) -> bool:
        """True until the job's function has returned (its thread may still be winding down)."""
        return self._active.is_set()

    def start(self, fn: Callable[..., object], *, on_progress: Callable = _ignore,
              on_succeeded: Callable[[object], None] = _ignore, on_failed: Callable[[str, object], None] = _ignore,
              on_cancelled: Callable[[], None] = _ignore, on_finished: Callable[[], None] = _ignore) -> None:
        if self.running():
            raise RuntimeError("a job is already running")
        if self.thread is not None:
            self.thread.wait(5000)  # the previous job has returned; let its thread end
        self._cancel = threading.Event()
        self._active.set()
        thread = QThread(self)
        worker = _Worker(fn, self._cancel, self._active)
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        worker.finished.connect(thread.quit, Qt.ConnectionType.DirectConnection)
        relay = _Relay(self, {"progress": on_progress, "succeeded": on_succeeded, "failed": on_failed,
                              "cancelled": on_cancelled, "finished": on_finished})
        worker.progress.connect(relay.progress)
        worker.succeeded.connect(relay.succeeded)
        worker.failed.connect(relay.failed)
        worker.cancelled.connect(relay.cancelled)
        worker.finished.connect(relay.finished)
        self.thread, self._worker, self._relay = thread, worker, relay
        thread.start()

    def cancel_requested(self) -> bool:
        return self._cancel.is_set()

    def cancel(self) -> None:
        """Ask the running job to stop (safe at any time)."""
        self._cancel.set()

    def stop(self, timeout_ms: int = 30000) -> bool:
        """Cancel and wait for the thread (when a window or dialog closes); False on timeout."""
        self.cancel()
        if self.thread is None:
            return True
        return self.thread.wait(timeout_ms)
