"""Extracting zip archives received from elsewhere without trusting them.

Every member is checked before anything is written: names with `..`, absolute
paths or drive letters, symbolic links (a Unix mode of S_IFLNK in the
external attributes), more members than `max_members`, and declared sizes or
compression ratios beyond the limits (zip bombs) refuse the whole archive.
Declared sizes can lie, so extraction also streams each member in chunks and
stops as soon as the bytes actually inflated pass the member's declared size
or the total limit; the partial output is removed. Memory stays bounded by
the chunk size.
"""

from __future__ import annotations

import shutil
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .pathsafety import UnsafePathError, check_member_name

CHUNK = 1 << 20


class UnsafeArchiveError(UnsafePathError):
    """A zip archive is malformed or would write outside, or too much into, its folder."""


@dataclass(frozen=True)
class ZipLimits:
    max_total: int = 4 << 30  # bytes, all members inflated
    max_member: int = 1 << 30  # bytes, one member inflated
    max_ratio: float = 200.0  # inflated / compressed, for members over `ratio_floor`
    ratio_floor: int = 1 << 20  # small members may compress well (blank masks do)
    max_members: int = 100_000


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(info.external_attr >> 16)


def check_members(zf: zipfile.ZipFile, source: str | Path,
                  limits: ZipLimits = ZipLimits()) -> list[tuple[zipfile.ZipInfo, PurePosixPath]]:
    """The archive's file members with their checked relative paths, after refusing anything unsafe;
    nothing is extracted."""
    infos = zf.infolist()
    if len(infos) > limits.max_members:
        raise UnsafeArchiveError(f"{source}: {len(infos):,} members, more than the {limits.max_members:,} accepted")
    total = 0
    files = []
    for info in infos:
        try:
            rel = check_member_name(info.filename, source)
        except UnsafePathError as e:
            raise UnsafeArchiveError(str(e)) from None
        if _is_symlink(info):
            raise UnsafeArchiveError(f"{source}: member {info.filename!r} is a symbolic link; refused")
        if info.is_dir():
            continue
        if info.file_size > limits.max_member:
            raise UnsafeArchiveError(f"{source}: member {info.filename!r} inflates to {info.file_size:,} bytes, "
                                     f"more than the {limits.max_member:,} accepted; refused as a zip bomb")
        if info.file_size > limits.ratio_floor and info.file_size > limits.max_ratio * max(1, info.compress_size):
            raise UnsafeArchiveError(f"{source}: member {info.filename!r} inflates {info.compress_size:,} bytes to "
                                     f"{info.file_size:,} (ratio over {limits.max_ratio:g}); refused as a zip bomb")
        total += info.file_size
        if total > limits.max_total:
            raise UnsafeArchiveError(f"{source}: members inflate to more than {limits.max_total:,} bytes in all; "
                                     "refused as a zip bomb")
        files.append((info, rel))
    return files


def _copy_bounded(zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, budget: int, source) -> int:
    """Inflate one member into `target`, stopping past its declared size or `budget`; returns bytes written."""
    allowed = min(info.file_size, budget)
    written = 0
    with zf.open(info) as fin, open(target, "xb") as fout:
        while True:
            chunk = fin.read(CHUNK)
            if not chunk:
                break
            written += len(chunk)
            if written > allowed:
                raise UnsafeArchiveError(f"{source}: member {info.filename!r} inflates past its declared size "
                                         f"({info.file_size:,} bytes) or the archive's limit; refused")
            fout.write(chunk)
    return written


def extract_zip(path: str | Path, dest: str | Path, limits: ZipLimits = ZipLimits()) -> Path:
    """Extract `path` into the existing folder `dest` after checking every member; returns `dest`.

    On any refusal the files extracted so far are removed and `dest` is left empty.
    """
    path, dest = Path(path), Path(dest)
    try:
        with zipfile.ZipFile(path) as zf:
            files = check_members(zf, path, limits)
            budget = limits.max_total
            try:
                for info, rel in files:
                    target = dest.joinpath(*rel.parts)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    budget -= _copy_bounded(zf, info, target, budget, path)
            except BaseException:
                for p in list(dest.iterdir()):
                    shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
                raise
    except zipfile.BadZipFile as e:
        raise UnsafeArchiveError(f"{path}: not a valid zip file ({e})") from None
    except FileExistsError as e:
        raise UnsafeArchiveError(f"{path}: member {e.filename} appears twice in the archive; refused") from None
    except (zipfile.LargeZipFile, NotImplementedError, RuntimeError, EOFError) as e:
        raise UnsafeArchiveError(f"{path}: cannot extract ({e})") from None
    return dest
