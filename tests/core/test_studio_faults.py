"""Faults around a studio's folder, without Qt (issue 14 item 6): damaged project file,
masks folder over the images, a mask changed by another program, a full disk, two studios."""

import errno
import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from segstudio.core import atomic
from segstudio.core.imageio import read_label_png
from segstudio.core.project import PROJECT_FILE, ImageState, Project, ProjectError

from ..full_disk import FullDisk


def _images(folder, n=3, ext="jpg"):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.new("RGB", (16, 12), (i * 40, 10, 20)).save(folder / f"img{i}.{ext}")
    return folder


@pytest.mark.parametrize("damage", ["{broken", "[" * 20000 + "]" * 20000,
                                    json.dumps({"format": "segstudio.project", "labelset": 7, "states": {}})])
def test_damaged_project_file_is_kept_and_the_project_rebuilt_from_masks(tmp_path, damage):
    d = _images(tmp_path / "imgs")
    p = Project.open(d, labels="camvid")
    p.save_mask(p.images[1], np.full((12, 16), 2, np.uint8))
    (d / PROJECT_FILE).write_text(damage)
    q = Project.open(d)
    backups = sorted(d.glob(f"{PROJECT_FILE}.corrupt-*"))
    assert len(backups) == 1 and backups[0].read_text() == damage  # kept, byte for byte
    assert "kept as" in q.notice and backups[0].name in q.notice
    assert q.state(q.images[1]) is ImageState.SAVED and q.state(q.images[0]) is ImageState.UNLABELLED
    assert json.loads((d / PROJECT_FILE).read_text())["format"] == "segstudio.project"  # a fresh, valid file


def test_masks_folder_equal_to_a_png_image_folder_is_refused(tmp_path):
    d = _images(tmp_path / "pngs", ext="png")
    before = {p.name: p.read_bytes() for p in d.iterdir()}
    with pytest.raises(ProjectError, match="would be written over the images"):
        Project.open(d, masks=d)
    assert {p.name: p.read_bytes() for p in d.iterdir()} == before
    j = _images(tmp_path / "jpgs")
    assert Project.open(j, masks=j).masks_dir == j.resolve()  # no name can collide


def test_a_mask_changed_by_another_program_is_not_overwritten(tmp_path):
    from segstudio.core.project import MaskChangedOnDisk

    d = _images(tmp_path / "imgs")
    p = Project.open(d, labels="camvid")
    img = p.images[0]
    p.save_mask(img, np.zeros((12, 16), np.uint8))
    p.load_mask(img, (16, 12))
    theirs = np.full((12, 16), 5, np.uint8)
    Image.fromarray(theirs, "L").save(p.mask_path(img))  # another program rewrites it
    mine = np.full((12, 16), 3, np.uint8)
    with pytest.raises(MaskChangedOnDisk, match="changed on disk by another program"):
        p.save_mask(img, mine)
    assert (read_label_png(p.mask_path(img)) == 5).all()
    copy = p.save_mask_copy(img, mine)
    assert copy.name == "img0.mine-1.png" and (read_label_png(copy) == 3).all()
    assert (read_label_png(p.mask_path(img)) == 5).all()
    p.save_mask(img, mine, force=True)  # "keep mine"
    assert (read_label_png(p.mask_path(img)) == 3).all()
    p.save_mask(img, mine)  # our own write is not "another program"


def test_full_disk_during_save_keeps_the_old_file_whole_and_retry_succeeds(tmp_path, monkeypatch):
    from segstudio.core.autosave import SaveRetry

    d = _images(tmp_path / "imgs")
    p = Project.open(d, labels="camvid")
    img = p.images[0]
    p.save_mask(img, np.full((12, 16), 1, np.uint8))
    before = p.mask_path(img).read_bytes()

    monkeypatch.setattr(atomic, "open", lambda path, mode, **kw: FullDisk(open(path, mode, **kw)), raising=False)
    retry = SaveRetry()
    with pytest.raises(OSError) as e:
        p.save_mask(img, np.full((12, 16), 4, np.uint8))
    assert retry.failed(img, e.value) == 2.0
    assert retry.failed(img, e.value) == 5.0
    assert p.mask_path(img).read_bytes() == before  # not truncated
    assert sorted(x.name for x in p.masks_dir.iterdir()) == ["img0.png"]  # no temporary left
    msg = retry.message(p.masks_dir)
    assert "the disk is full" in msg and "kept in memory" in msg and "retried every 5 s" in msg
    monkeypatch.delattr(atomic, "open")  # space comes back
    p.save_mask(img, np.full((12, 16), 4, np.uint8))
    retry.saved(img)
    assert not retry.active and retry.message(p.masks_dir) == ""
    assert (read_label_png(p.mask_path(img)) == 4).all()


def _lock_file(folder, pid, host=None):
    import socket

    (folder / ".segstudio-lock").write_text(json.dumps({"pid": pid, "host": host or socket.gethostname(),
                                                        "user": "x", "time": "2026-01-01T00:00:00", "token": "t"}))


@pytest.fixture
def other_studio():
    """A live process standing for another studio."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield proc.pid
    proc.kill()
    proc.wait()


def test_second_studio_is_refused_the_lock_and_a_stale_lock_is_taken_over(tmp_path, other_studio):
    from segstudio.core.folder_lock import LOCK_FILE, FolderLock

    d = _images(tmp_path / "imgs")
    first = FolderLock(d)
    assert first.acquire()
    _lock_file(d, other_studio)
    second = FolderLock(d)
    assert not second.acquire()
    assert second.holder.pid == other_studio and f"process {other_studio}" in second.holder.describe()
    second.release()  # not ours: the lock stays
    assert (d / LOCK_FILE).exists()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    _lock_file(d, int(dead.stdout))
    third = FolderLock(d)
    assert third.acquire() and third.took_over.pid == int(dead.stdout)
    assert json.loads((d / LOCK_FILE).read_text())["token"] == third.token
    again = FolderLock(d)  # this process reopening the folder takes its own lock back
    assert again.acquire()
    third.release()  # no longer holds the token: leaves the file
    assert (d / LOCK_FILE).exists()
    again.release()
    assert not (d / LOCK_FILE).exists()
    _lock_file(tmp_path, 1, host="elsewhere")
    other_host = FolderLock(tmp_path)
    assert not other_host.acquire() and other_host.holder.host == "elsewhere"


def test_a_project_held_by_another_studio_opens_read_only_and_writes_nothing(tmp_path, other_studio):
    d = _images(tmp_path / "imgs")
    _lock_file(d, other_studio)
    p = Project.open(d, labels="camvid", lock=True)
    assert p.read_only and f"process {other_studio}" in p.read_only_reason
    with pytest.raises(ProjectError, match="read-only"):
        p.save_mask(p.images[0], np.zeros((12, 16), np.uint8))
    assert not p.masks_dir.exists() and not (d / PROJECT_FILE).exists()
    mine = Project.open(tmp_path / "imgs2" if _images(tmp_path / "imgs2") else None, lock=True)
    assert not mine.read_only and (tmp_path / "imgs2" / ".segstudio-lock").exists()
    mine.release_lock()
    assert not (tmp_path / "imgs2" / ".segstudio-lock").exists()


def test_lock_in_a_read_only_folder_is_not_taken(tmp_path, monkeypatch):
    import os

    from segstudio.core.folder_lock import FolderLock

    def read_only(*a, **k):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(os, "open", read_only)
    assert not FolderLock(tmp_path).acquire()


def test_vanished_images_are_reported_and_their_masks_kept(tmp_path):
    d = _images(tmp_path / "imgs")
    p = Project.open(d, labels="camvid")
    p.save_mask(p.images[2], np.zeros((12, 16), np.uint8))
    (d / "img2.jpg").rename(d / "renamed.jpg")
    assert [x.name for x in p.vanished_images()] == ["img2.jpg"]
    assert p.mask_path(d / "img2.jpg").exists()
