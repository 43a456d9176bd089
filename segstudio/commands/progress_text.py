"""A dependency-free text progress bar for the batch commands (stderr, TTY only)."""

from __future__ import annotations

import sys
import time


class TextProgress:
    """Callable `progress(i, n)`: redraws a one-line bar at most 10 times a second."""

    def __init__(self, label: str, stream=None, width: int = 30):
        self.label = label
        self.stream = stream or sys.stderr
        self.width = width
        self.enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last = 0.0
        self._start = time.monotonic()

    def __call__(self, i: int, n: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if i < n and now - self._last < 0.1:
            return
        self._last = now
        frac = i / n if n else 1.0
        filled = int(round(self.width * frac))
        rate = i / max(1e-9, now - self._start)
        self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (self.width - filled)}] {i}/{n} {rate:5.1f}/s")
        if i >= n:
            self.stream.write("\n")
        self.stream.flush()
