"""Staged output: write beside the destination, rename into place only on success.

A cancelled or failed batch (export, import) leaves the destination as it was:
`staged_dir` and `staged_file` yield a temporary path next to the final one and
replace the final path only when the `with` body finished; `commit_files` moves
a staging folder's files into a destination folder one atomic rename each.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

from .atomic import atomic_path
from .errors import SegstudioError


def _prepare_destination(final: Path, overwrite: bool) -> None:
    if final.exists() or final.is_symlink():
        if final.is_dir() and not final.is_symlink() and not any(final.iterdir()):
            return
        if not overwrite:
            raise SegstudioError(f"{final}: already exists; choose another output or allow overwriting")


@contextlib.contextmanager
def staged_dir(final: str | Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary folder beside `final`; on success it replaces `final`.

    On any exception (including Cancelled) the temporary folder is deleted and
    `final` is left as it was.
    """
    final = Path(final)
    _prepare_destination(final, overwrite)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.partial-", dir=final.parent))
    try:
        yield tmp
        old = None
        if final.exists() or final.is_symlink():
            if final.is_dir() and not final.is_symlink():
                old = Path(tempfile.mkdtemp(prefix=f".{final.name}.old-", dir=final.parent))
                os.rmdir(old)
                os.replace(final, old)
            else:
                os.unlink(final)
        os.replace(tmp, final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


@contextlib.contextmanager
def staged_file(final: str | Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary file path beside `final`; on success it replaces `final`."""
    final = Path(final)
    if final.is_dir():
        raise SegstudioError(f"{final}: is a folder; give a file name for the output")
    _prepare_destination(final, overwrite)
    with atomic_path(final, suffix=final.suffix) as tmp:
        yield tmp


def commit_files(staging: Path, dest_dir: Path) -> list[Path]:
    """Move every file of `staging` into `dest_dir` (one atomic rename each), then remove `staging`."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    moved = []
    for p in sorted(staging.iterdir()):
        target = dest_dir / p.name
        os.replace(p, target)
        moved.append(target)
    shutil.rmtree(staging, ignore_errors=True)
    return moved
