"""The one way the studio runs work off the GUI thread: `JobRunner`.

A job is a function called on a worker thread as `fn(progress=..., cancelled=...)`,
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

from PySide6.QtCore import QObject, Qt, Signal, Slot

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


def _ignore(*_args) -> None:
    pass


class _Relay(QObject):
    """Lives on the GUI thread; the worker thread emits `event`, the handlers run here, queued.

    (PySide calls a plain function or lambda connected to a signal on the
    emitting thread, so the handlers are never connected to the worker directly.)
    """

    event = Signal(str, object)

    def __init__(self, parent: QObject, handlers: dict[str, Callable]):
        super().__init__(parent)
        self.handlers = handlers
        self.event.connect(self._dispatch, Qt.ConnectionType.QueuedConnection)

    @Slot(str, object)
    def _dispatch(self, kind: str, args) -> None:
        self.handlers[kind](*args)


class JobRunner(QObject):
    """Runs one job at a time on its own thread; see the module docstring.

    The outcome is decided on the worker thread and delivered, queued, on the
    GUI thread; `stop()` can wait for the thread without running the event loop.
    """

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.thread: threading.Thread | None = None
        self._relay: _Relay | None = None
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
            self.thread.join(5)  # the previous job has returned; let its thread end
        self._cancel = threading.Event()
        self._active.set()
        if self._relay is not None:
            self._relay.handlers = {k: _ignore for k in self._relay.handlers}  # late events of the last job
        self._relay = _Relay(self, {"progress": on_progress, "succeeded": on_succeeded, "failed": on_failed,
                                    "cancelled": on_cancelled, "finished": on_finished})
        self.thread = threading.Thread(target=self._run, args=(fn, self._relay.event, self._cancel),
                                       name="segstudio-job", daemon=True)
        self.thread.start()

    def _run(self, fn, event, cancel: threading.Event) -> None:
        """The worker thread: run `fn`, then report exactly one outcome and `finished`."""
        try:
            result = fn(progress=lambda *args: event.emit("progress", args), cancelled=cancel.is_set)
        except Cancelled:
            outcome = ("cancelled", ())
        except Exception as e:  # noqa: BLE001 - reported to the user, the studio keeps running
            outcome = ("failed", (describe_error(e), e))
        else:  # a job that returned has finished, even if Cancel came at its last step
            outcome = ("succeeded", (result,))
        self._active.clear()  # no longer running as far as the GUI is concerned, before it hears the outcome
        event.emit(*outcome)
        event.emit("finished", ())

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
        self.thread.join(timeout_ms / 1000)
        return not self.thread.is_alive()


def progress_dialog(parent, text: str, title: str, n: int, on_cancel: Callable[[], None], modal: bool):
    """A shown progress dialog over `n` steps whose Cancel calls `on_cancel` (a runner's cancel); it stays
    open at the end until the caller closes it, so the last message can be read."""
    from PySide6.QtWidgets import QProgressDialog

    d = QProgressDialog(text, "Cancel", 0, n, parent)
    d.setWindowTitle(title)
    d.setWindowModality(Qt.WindowModality.WindowModal if modal else Qt.WindowModality.NonModal)
    d.setMinimumDuration(0)
    d.setAutoClose(False)
    d.setAutoReset(False)
    d.canceled.connect(on_cancel)
    d.show()
    return d
