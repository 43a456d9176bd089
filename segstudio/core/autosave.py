"""What the studio does when autosave fails: keep the edits, say so, retry later.

A save fails when the masks folder turns read-only or the disk fills. Masks
are written atomically (core/atomic.py), so the file on disk stays whole
and the edits stay in memory; `SaveRetry` remembers which images still need
saving, says it in one line for a visible warning, and gives the delay before
the next try (growing from 2 s to 60 s). A successful save clears the image;
when every pending image is saved, the warning goes away. No Qt here: the
studio drives it with a timer.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass, field
from pathlib import Path

DELAYS_S = (2, 5, 10, 30, 60)


def describe_os_error(e: OSError) -> str:
    """A short human reason for a failed write."""
    if e.errno == errno.ENOSPC or e.errno == errno.EDQUOT:
        return "the disk is full"
    if e.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return "the folder is read-only"
    return e.strerror or str(e)


@dataclass
class SaveRetry:
    pending: dict[Path, str] = field(default_factory=dict)  # image -> reason of its last failure
    failures: int = 0  # consecutive failed attempts

    def failed(self, image: Path, error: OSError | str) -> float:
        """Record a failed save of `image`; returns seconds until the next try."""
        self.pending[Path(image)] = describe_os_error(error) if isinstance(error, OSError) else str(error)
        self.failures += 1
        return self.delay()

    def saved(self, image: Path) -> None:
        self.pending.pop(Path(image), None)
        if not self.pending:
            self.failures = 0

    def delay(self) -> float:
        return float(DELAYS_S[min(len(DELAYS_S), max(1, self.failures)) - 1])

    @property
    def active(self) -> bool:
        return bool(self.pending)

    def message(self, masks_dir: Path | str) -> str:
        """The warning line: what failed, why, and that nothing is lost."""
        if not self.pending:
            return ""
        reasons = sorted(set(self.pending.values()))
        n = len(self.pending)
        return (f"Cannot save {n} mask{'s' if n > 1 else ''} to {masks_dir}: {'; '.join(reasons)}. "
                f"Your edits are kept in memory and saving is retried every {self.delay():g} s; "
                "the masks on disk are unchanged.")
