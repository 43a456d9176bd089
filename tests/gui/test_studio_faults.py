"""Faults in the studio (issue 14 item 6), driven through a real window.

A full disk during autosave, a mask rewritten by another program, a folder
held by another studio, an image deleted while open, a damaged project file.
"""

import json
import socket
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPointF, Qt

from segstudio.core import atomic
from segstudio.core.imageio import read_label_png, write_label_png
from segstudio.core.labels import preset

from ..full_disk import FullDisk

CAMVID = preset("camvid")


def _paint(qtbot, c, x0, y0, x1, y1):
    qtbot.mousePress(c, Qt.MouseButton.LeftButton, pos=c.to_widget(x0, y0).toPoint())
    qtbot.mouseMove(c, c.to_widget(x1, y1).toPoint())
    qtbot.mouseRelease(c, Qt.MouseButton.LeftButton, pos=c.to_widget(x1, y1).toPoint())


def test_full_disk_during_autosave_warns_keeps_edits_and_retries(make_window, image_folder, qtbot, monkeypatch):
    win = make_window(image_folder, autosave_ms=60000)
    c = win.canvas
    c.zoom_to(2.0, QPointF(0, 0))
    win.set_current_class(3)
    _paint(qtbot, c, 5, 5, 40, 20)
    mask = image_folder / "SegmentationClass" / "im0.png"
    win.save_current()
    before = mask.read_bytes()
    _paint(qtbot, c, 5, 40, 60, 40)
    edited = c.labels.copy()
    monkeypatch.setattr(atomic, "open", lambda p, m, **kw: FullDisk(open(p, m, **kw)), raising=False)
    win.autosave()
    s = win.safety
    assert s.bar.isVisible() and s.save_label.isVisible() and s.retry_button.isVisible()
    assert "the disk is full" in s.save_label.text() and "kept in memory" in s.save_label.text()
    assert s.retry_timer.isActive() and 1500 <= s.retry_timer.interval() <= 2500
    assert mask.read_bytes() == before  # the old mask is whole
    assert sorted(p.name for p in mask.parent.iterdir()) == ["im0.png"]  # no half-written temporary
    assert win.current.dirty and np.array_equal(c.labels, edited)
    s.retry_now()  # still full: the delay grows
    assert s.retry_timer.interval() >= 4500 and s.bar.isVisible()
    monkeypatch.delattr(atomic, "open")  # space comes back
    qtbot.mouseClick(s.retry_button, Qt.MouseButton.LeftButton)
    assert not s.bar.isVisible() and not win.current.dirty
    assert np.array_equal(read_label_png(mask), edited)


@pytest.mark.parametrize("choice", ["Keep mine", "Save a copy", "Reload"])
def test_mask_changed_by_another_program_asks_before_saving(make_window, image_folder, qtbot, choice):
    masks = image_folder / "SegmentationClass"
    masks.mkdir()
    write_label_png(masks / "im0.png", np.zeros((64, 96), np.uint8), CAMVID)
    win = make_window(image_folder, autosave_ms=60000)
    c = win.canvas
    win.set_current_class(5)
    _paint(qtbot, c, 10, 10, 50, 10)
    mine = c.labels.copy()
    theirs = np.full((64, 96), 7, np.uint8)
    Image.fromarray(theirs, "L").save(masks / "im0.png")  # another program
    assert not win.save_current()
    box = win.safety.conflict_box
    assert box is not None and box.isVisible() and "changed by another program" in box.text()
    assert np.array_equal(read_label_png(masks / "im0.png"), theirs)  # not overwritten
    button = next(b for b in box.buttons() if b.text() == choice)
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    on_disk = read_label_png(masks / "im0.png")
    if choice == "Keep mine":
        assert np.array_equal(on_disk, mine)
    else:
        assert np.array_equal(on_disk, theirs) and np.array_equal(c.labels, theirs)
    if choice == "Save a copy":
        assert np.array_equal(read_label_png(masks / "im0.mine-1.png"), mine)
    if choice == "Reload":
        win.undo()  # the user's edits are one undo away
        assert np.array_equal(c.labels, mine)
    assert not win.save_failures


def test_folder_held_by_another_studio_opens_read_only_with_a_banner(make_window, image_folder, qtbot):
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (image_folder / ".segstudio-lock").write_text(json.dumps(
            {"pid": other.pid, "host": socket.gethostname(), "user": "ann", "time": "2026-11-28T03:00:00"}))
        win = make_window(image_folder)
        s = win.safety
        assert s.bar.isVisible() and s.readonly_label.isVisible()
        assert "open in another segstudio" in s.readonly_label.text() and "ann" in s.readonly_label.text()
        assert not win.canvas.editable and win.current.read_only
        win.set_current_class(2)
        _paint(qtbot, win.canvas, 10, 10, 50, 10)
        assert (win.canvas.labels == CAMVID.ignore_index).all()
        win.close()
        assert not (image_folder / "SegmentationClass").exists()
        assert json.loads((image_folder / ".segstudio-lock").read_text())["pid"] == other.pid
    finally:
        other.kill()
        other.wait()


def test_image_deleted_while_open_is_reported_and_its_mask_kept(make_window, image_folder, qtbot):
    win = make_window(image_folder, autosave_ms=60000)
    win.set_current_class(1)
    _paint(qtbot, win.canvas, 10, 10, 50, 10)
    (image_folder / "im0.png").rename(image_folder / "renamed.png")
    win.safety.check_files()
    mask = image_folder / "SegmentationClass" / "im0.png"
    assert mask.exists() and (read_label_png(mask) == 1).any()  # the edits reached the mask
    assert any("im0.png was deleted or renamed by another program" in p for p in win.problems)
    (image_folder / "im1.png").unlink()
    win.safety.check_files()
    assert any("im1.png was deleted or renamed" in p and "no mask yet" in p for p in win.problems)


def test_damaged_project_file_is_recovered_and_said_once(make_window, image_folder):
    (image_folder / "segstudio-project.json").write_text("{damaged")
    win = make_window(image_folder)
    assert "kept as segstudio-project.json.corrupt-" in win.last_error
    assert list(image_folder.glob("segstudio-project.json.corrupt-*"))


def test_masks_folder_equal_to_the_image_folder_is_refused_in_the_studio(make_window, image_folder):
    win = make_window(image_folder)
    before = {p.name: p.read_bytes() for p in image_folder.glob("*.png")}
    assert not win.open_path(image_folder, masks=image_folder)
    assert "would be written over the images" in win.last_error
    assert win.project.masks_dir == (image_folder / "SegmentationClass").resolve()  # the old project stays
    assert {p.name: p.read_bytes() for p in image_folder.glob("*.png")} == before
