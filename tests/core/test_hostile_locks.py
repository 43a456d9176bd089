"""The folder lock against hostile lock files (issue 25 item 2): garbage, a folder, a pipe, a huge file, a
pid out of range, a lock from another host. The folder always opens (writable, or read-only with a
message naming the lock file); nothing the user put there is removed; no hang, no traceback."""

import json
import os
import socket
import time

import numpy as np
import pytest
from PIL import Image

from segstudio.core.folder_lock import LOCK_FILE, FolderLock
from segstudio.core.project import Project


@pytest.fixture
def folder(tmp_path):
    d = tmp_path / "images"
    d.mkdir()
    Image.fromarray(np.zeros((4, 6, 3), np.uint8)).save(d / "a.png")
    return d


def _old(path):
    """Date a lock file back a minute: not one another studio is writing right now."""
    past = time.time() - 60
    os.utime(path, (past, past), follow_symlinks=False)


@pytest.mark.parametrize("content", [b"\x00\xffgarbage", b"", b"[1, 2]", b'{"pid": "abc"}',
                                     json.dumps({"pid": 10 ** 30, "host": socket.gethostname()}).encode(),
                                     json.dumps({"pid": -7, "host": socket.gethostname()}).encode()],
                         ids=["garbage", "empty", "a list", "pid text", "pid 1e30", "pid negative"])
def test_a_damaged_lock_file_is_stale_and_taken_over(folder, content):
    (folder / LOCK_FILE).write_bytes(content)
    _old(folder / LOCK_FILE)
    project = Project.open(folder, labels="camvid", lock=True)
    assert not project.read_only
    assert json.loads((folder / LOCK_FILE).read_text())["pid"] == os.getpid()
    project.release_lock()
    assert not (folder / LOCK_FILE).exists()


def test_a_damaged_lock_being_written_right_now_is_waited_for(folder):
    (folder / LOCK_FILE).write_bytes(b"")  # just created by another studio, not yet written
    start = time.monotonic()
    lock = FolderLock(folder)
    assert lock.acquire()  # it stayed damaged: stale after a second
    assert 0.4 < time.monotonic() - start < 5
    lock.release()


def test_a_huge_lock_file_is_not_read_whole(folder):
    with open(folder / LOCK_FILE, "wb") as f:
        f.truncate(1 << 34)  # 16 GiB, sparse
    _old(folder / LOCK_FILE)
    lock = FolderLock(folder)
    holder, token = lock.read()
    assert holder.pid == -1 and token is None  # damaged: 4 KiB read, not 16 GiB


@pytest.mark.parametrize("kind", ["folder", "pipe", "link"])
def test_something_else_at_the_lock_path_opens_read_only_and_is_left_alone(folder, tmp_path, kind):
    path = folder / LOCK_FILE
    if kind == "folder":
        path.mkdir()
        (path / "keep.txt").write_text("the user's")
    elif kind == "pipe":
        os.mkfifo(path)  # reading it would block forever
    else:
        (tmp_path / "target").write_text("the user's")
        path.symlink_to(tmp_path / "target")
    project = Project.open(folder, labels="camvid", lock=True)
    assert project.read_only and str(path) in project.read_only_reason
    assert "remove or rename it" in project.read_only_reason
    project.release_lock()
    if kind == "folder":
        assert (path / "keep.txt").read_text() == "the user's"
    elif kind == "link":
        assert path.is_symlink() and (tmp_path / "target").read_text() == "the user's"
    else:
        assert path.exists()


def test_a_lock_from_another_host_is_respected_and_the_banner_says_how_to_take_over(folder):
    (folder / LOCK_FILE).write_text(json.dumps({"pid": 1, "host": "far-away", "user": "bob",
                                                "time": "2026-01-01T00:00:00", "token": "x"}))
    project = Project.open(folder, labels="camvid", lock=True)
    reason = project.read_only_reason
    assert project.read_only and "bob on far-away" in reason and "since 2026-01-01T00:00:00" in reason
    assert f"delete {folder / LOCK_FILE}" in reason
    project.release_lock()
    assert json.loads((folder / LOCK_FILE).read_text())["host"] == "far-away"  # not ours: kept
