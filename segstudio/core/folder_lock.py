"""One studio writes a folder's masks at a time: a lock file naming its holder.

`.segstudio-lock` in the image folder holds JSON {pid, host, user, time,
token}. It is created with O_EXCL, so two studios starting together cannot
both win. A second studio finds it held and opens the folder read-only
(`FolderLock.holder` says by whom, for the banner). A lock whose holder is
gone — same host, and no process with that pid — is stale and taken over, and
so is one this process left (the folder reopened).
A lock from another host cannot be checked and is respected (the read-only
banner names the lock file, to delete if that studio is gone). A damaged
lock file (garbage, truncated, a pid out of range) counts as stale, unless it
is a second old (another studio may be writing it). Anything but a regular
file at the lock's path (a directory, a pipe, a link) is never touched nor
read: the folder opens read-only and `problem` says why. A folder where no
lock can be created (read-only) is not locked: nothing can be saved there
anyway. `release` removes the file only while it still holds our token.
"""

from __future__ import annotations

import contextlib
import datetime
import getpass
import json
import os
import socket
import stat
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

LOCK_FILE = ".segstudio-lock"
#: A damaged lock file younger than this may be one another studio is writing: wait for it.
FRESH_S = 1.0


@dataclass(frozen=True)
class LockHolder:
    pid: int
    host: str
    user: str
    time: str

    def describe(self) -> str:
        return f"{self.user or 'someone'} on {self.host} (process {self.pid}, since {self.time})"


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):  # no such process; a pid no process can have
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in some containers
        return ""


class FolderLock:
    """The lock of one folder; `acquire()` says whether this process may write there."""

    def __init__(self, folder: str | Path):
        self.path = Path(folder) / LOCK_FILE
        self.token = uuid.uuid4().hex
        self.owned = False
        self.holder: LockHolder | None = None  # who holds it when we do not
        self.took_over: LockHolder | None = None  # the stale holder we replaced
        self.problem: str | None = None  # why the folder cannot be locked (something else at the lock's path)

    def _payload(self) -> bytes:
        return json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "user": _user(),
                           "time": datetime.datetime.now().isoformat(timespec="seconds"),
                           "token": self.token}).encode()

    def read(self) -> tuple[LockHolder | None, str | None]:
        """(holder, token) from the lock file; (None, None) if absent; a damaged file counts as stale."""
        try:
            fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
            with os.fdopen(fd, "rb") as f:
                raw = f.read(4096)  # a lock file is ~150 bytes: a huge one is not read whole
            d = json.loads(raw)
            holder = LockHolder(int(d["pid"]), str(d["host"]), str(d.get("user", "")), str(d.get("time", "")))
            return holder, d.get("token")
        except FileNotFoundError:
            return None, None
        except (OSError, ValueError, KeyError, TypeError):
            return LockHolder(-1, socket.gethostname(), "", "?"), None

    def _create(self) -> bool:
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "wb") as f:
            f.write(self._payload())
        return True

    def acquire(self) -> bool:
        """Take the lock (or a stale one); False if another live studio holds it or the folder is read-only."""
        for _ in range(8):  # a few races, and waiting out a damaged lock file that may be being written
            try:
                if self._create():
                    self.owned, self.holder = True, None
                    return True
            except OSError:  # read-only folder, full disk: nothing will be saved here
                return False
            self.problem = self._not_a_lock_file()
            if self.problem:
                return False
            holder, _token = self.read()
            if holder is None:
                continue  # released meanwhile: try again
            if holder.pid == -1 and self._age() < FRESH_S:  # damaged, or being written right now
                time.sleep(FRESH_S / 2)
                continue
            # this process's own lock (a folder reopened) or a dead holder's on this host: take it over
            if holder.host == socket.gethostname() and (holder.pid == os.getpid() or not _pid_alive(holder.pid)):
                self.took_over = holder
                try:
                    os.unlink(self.path)
                except FileNotFoundError:
                    pass
                except OSError:  # cannot remove it: no write access here, nothing to guard
                    return False
                continue
            self.holder = holder
            return False
        return False

    def _not_a_lock_file(self) -> str | None:
        """Why the lock's path holds something other than a lock file (None if it is one or is gone)."""
        try:
            mode = os.lstat(self.path).st_mode
        except OSError:
            return None
        if stat.S_ISREG(mode):
            return None
        kind = ("a folder" if stat.S_ISDIR(mode) else "a symbolic link" if stat.S_ISLNK(mode)
                else "not a regular file")
        return (f"{self.path} is {kind}, not a segstudio lock file, so this folder cannot be locked against "
                "a second studio; opened read-only (remove or rename it to edit here)")

    def _age(self) -> float:
        try:
            return time.time() - os.stat(self.path).st_mtime
        except OSError:
            return FRESH_S

    def release(self) -> None:
        if not self.owned:
            return
        _holder, token = self.read()
        if token == self.token:
            with contextlib.suppress(OSError):
                os.unlink(self.path)
        self.owned = False
