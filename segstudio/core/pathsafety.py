"""Refusing paths from imported files that would reach outside the data folder.

COCO `file_name`, labelme `imagePath` and zip member names come from files a
user received from elsewhere. A value such as `../../home/me/.ssh/id_rsa` or
`/etc/passwd` must never make segstudio read or write there, so every such
path is resolved against the folder it is relative to and refused, with an
error naming the file it came from, unless it stays inside one of the allowed
folders.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

from .errors import SegstudioError


class UnsafePathError(SegstudioError):
    """A path inside an imported file points outside the data folder."""


_DRIVE = re.compile(r"^[A-Za-z]:")


def is_within(path: Path, root: Path) -> bool:
    """True if `path` is `root` or lies below it (compared as given: resolve both first)."""
    try:
        path.relative_to(root)
        return True
    except ValueError:
        return False


def safe_join(base: str | Path, relative: str, *, allowed: list[str | Path] | None = None,
              source: str | Path | None = None, what: str = "path") -> Path:
    """`base / relative`, resolved, refused unless it lies inside `allowed` (default: [base]).

    Backslashes count as separators (files written on Windows); absolute paths
    and drive letters are refused outright. Symbolic links are resolved before
    the check, so a link inside the folder cannot point out of it either.
    """
    where = f"{source}: " if source else ""
    if not isinstance(relative, str) or not relative.strip():
        raise UnsafePathError(f"{where}{what} is empty or not a string: {relative!r}")
    if "\x00" in relative:
        raise UnsafePathError(f"{where}{what} {relative!r} contains a NUL byte")
    norm = relative.replace("\\", "/")
    if norm.startswith("/") or _DRIVE.match(norm) or norm.startswith("~"):
        raise UnsafePathError(f"{where}{what} {relative!r} is absolute; only paths relative to the data folder are accepted")
    base = Path(base)
    candidate = (base / PurePosixPath(norm)).resolve()
    roots = [Path(r).resolve() for r in (allowed if allowed is not None else [base])]
    if not any(is_within(candidate, r) for r in roots):
        inside = " or ".join(str(r) for r in roots)
        raise UnsafePathError(f"{where}{what} {relative!r} points outside the data folder ({inside}); refused")
    return candidate


def check_member_name(name: str, source: str | Path, what: str = "archive member") -> PurePosixPath:
    """A zip member name as a safe relative path (no absolute path, no '..')."""
    norm = name.replace("\\", "/")
    p = PurePosixPath(norm)
    if norm.startswith("/") or _DRIVE.match(norm) or ".." in p.parts:
        raise UnsafePathError(f"{source}: {what} {name!r} would be written outside the extraction folder; refused")
    return p
