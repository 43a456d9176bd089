"""Refusing outputs that would write over a command's own inputs or over files it did not create.

A badly chosen output folder (`predict --out DIR DIR`, `import --out` = the
images folder, `export voc --out` = the masks folder) must never destroy the
user's images or masks, with or without --overwrite. Paths are compared after
resolving symbolic links (and as the same inode when both exist, so hard
links count too); every refusal names the output and the input it would hit.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from .errors import SegstudioError
from .pathsafety import is_within


class OutputConflictError(SegstudioError):
    """An output path is one of the inputs, or would replace a file the command did not create."""


def real(path: str | Path) -> Path:
    """`path` with every symbolic link resolved, whether or not it exists."""
    return Path(os.path.realpath(path))


def same_file(a: str | Path, b: str | Path) -> bool:
    if real(a) == real(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def refuse_inputs(targets: Iterable[str | Path], inputs: Iterable[str | Path], what: str = "output") -> None:
    """Raise if any target resolves to an input file (names both)."""
    by_real: dict[Path, Path] = {}
    by_inode: dict[tuple[int, int], Path] = {}
    for p in inputs:
        p = Path(p)
        by_real.setdefault(real(p), p)
        try:
            st = p.stat()
            by_inode.setdefault((st.st_dev, st.st_ino), p)
        except OSError:
            pass
    for t in targets:
        t = Path(t)
        hit = by_real.get(real(t))
        if hit is None:
            try:
                st = t.stat()
                hit = by_inode.get((st.st_dev, st.st_ino))
            except OSError:
                hit = None
        if hit is not None:
            raise OutputConflictError(f"{what} {t} would replace the input {hit}; refused "
                                      "(choose an output folder apart from the inputs)")


def refuse_input_folder(out_dir: str | Path, input_dirs: Iterable[str | Path], what: str = "output folder") -> None:
    """Raise if `out_dir` is one of the input folders (or resolves to one)."""
    r = real(out_dir)
    for d in input_dirs:
        if real(d) == r:
            raise OutputConflictError(f"{what} {out_dir} is the input folder {d}; its files would mix with "
                                      "or replace the inputs; choose another folder")


def refuse_replacing_tree(out_dir: str | Path, protected: Iterable[str | Path], what: str = "output folder") -> None:
    """Raise if replacing the folder `out_dir` as a whole would delete or replace a protected path."""
    r = real(out_dir)
    for p in protected:
        rp = real(p)
        if is_within(rp, r):
            raise OutputConflictError(f"{what} {out_dir} holds the input {p}; replacing it would delete the "
                                      "inputs; choose another folder")


def refuse_existing(targets: Iterable[str | Path], what: str = "output", limit: int = 5) -> None:
    """Raise if any target already exists (the command did not create it); lists the first few."""
    clash = [Path(t) for t in targets if os.path.lexists(t)]
    if clash:
        shown = ", ".join(str(p) for p in clash[:limit]) + (" ..." if len(clash) > limit else "")
        raise OutputConflictError(f"{len(clash)} {what}(s) already exist ({shown}); nothing was written. "
                                  "Allow overwriting (--overwrite) to replace them")


def refuse_foreign_entries(out_dir: str | Path, expected: Iterable[str], what: str = "output folder") -> None:
    """Raise if the existing folder `out_dir` holds entries a previous run of the command would not have made."""
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        return
    allowed = set(expected)
    foreign = sorted(p.name for p in out_dir.iterdir() if p.name not in allowed)
    if foreign:
        shown = ", ".join(foreign[:5]) + (" ..." if len(foreign) > 5 else "")
        raise OutputConflictError(f"{what} {out_dir} holds files this command did not write ({shown}); "
                                  "it is not replaced even with --overwrite; choose an empty or new folder")
