"""The contract every long-running job in segstudio follows.

A batch function takes `progress(i, n)` and `cancelled() -> bool` callbacks, so
the CLI (progress bar, Ctrl+C) and the GUI (worker thread, Cancel button) drive
the same code. Between units of work it calls `check_cancel`, which raises
`Cancelled`; that is the one cancellation exception of the package (exports,
imports, prediction, evaluation and training all raise it).
"""

from __future__ import annotations

from typing import Callable

ProgressFn = Callable[[int, int], None]
CancelFn = Callable[[], bool]


class Cancelled(Exception):
    """The user cancelled a job; whatever it was writing was not committed."""


def check_cancel(cancelled: CancelFn | None) -> None:
    """Raise Cancelled when the caller's `cancelled()` says so."""
    if cancelled is not None and cancelled():
        raise Cancelled()


def report(progress: ProgressFn | None, i: int, n: int) -> None:
    """Call `progress(i, n)` if there is a progress callback."""
    if progress is not None:
        progress(i, n)
