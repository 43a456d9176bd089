"""Never losing work: autosave, reopening, navigation, unreadable images and masks, save failures."""

import numpy as np
from PIL import Image
from PySide6.QtCore import QPointF, Qt
from PySide6.QtWidgets import QMessageBox

from segstudio.core.imageio import read_label_png
from segstudio.core.labels import preset
from segstudio.core.project import ImageState

CAMVID = preset("camvid")


def _paint(qtbot, c, x0, y0, x1, y1):
    qtbot.mousePress(c, Qt.MouseButton.LeftButton, pos=c.to_widget(x0, y0).toPoint())
    qtbot.mouseMove(c, c.to_widget(x1, y1).toPoint())
    qtbot.mouseRelease(c, Qt.MouseButton.LeftButton, pos=c.to_widget(x1, y1).toPoint())


def test_autosave_writes_palette_png_and_reopening_restores(make_window, image_folder, qtbot):
    win = make_window(image_folder)
    c = win.canvas
    c.zoom_to(2.0, QPointF(0, 0))
    win.set_current_class(4)
    _paint(qtbot, c, 10, 10, 50, 30)
    assert win.isWindowModified()
    assert "[*]" in win.windowTitle()
    assert win.file_list.state(win.current.path) is ImageState.EDITED
    mask = image_folder / "SegmentationClass" / "im0.png"
    qtbot.waitUntil(lambda: mask.exists() and not win.isWindowModified(), timeout=3000)
    with Image.open(mask) as im:
        assert im.mode == "P"
        assert bytes(im.getpalette()[12:15]) == bytes(CAMVID.colors[4])
    saved = read_label_png(mask)
    assert np.array_equal(saved, c.labels)
    assert (saved == 4).sum() > 100
    assert win.file_list.state(win.current.path) is ImageState.SAVED
    edited = c.labels.copy()
    # a new window on the same folder: the label set and the mask come back
    win2 = make_window()
    assert win2.open_path(image_folder)
    assert win2.project.labelset == CAMVID
    assert win2.current.path.name == "im0.png"
    assert np.array_equal(win2.canvas.labels, edited)


def test_switching_images_saves_and_keeps_undo_history(make_window, image_folder, qtbot):
    win = make_window(image_folder, autosave_ms=60000)  # only the switch saves
    c = win.canvas
    win.set_current_class(2)
    _paint(qtbot, c, 5, 5, 40, 5)
    first = c.labels.copy()
    qtbot.keyClick(win, Qt.Key.Key_D)
    assert win.current.path.name == "im1.png"
    assert np.array_equal(read_label_png(image_folder / "SegmentationClass" / "im0.png"), first)
    assert (c.labels == CAMVID.ignore_index).all()
    qtbot.keyClick(win, Qt.Key.Key_A)
    assert win.current.path.name == "im0.png"
    assert np.array_equal(c.labels, first)
    qtbot.keyClick(c, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # history survived the switch
    assert (c.labels == CAMVID.ignore_index).all()
    assert win.isWindowModified()
    win.save_current()
    assert (read_label_png(image_folder / "SegmentationClass" / "im0.png") == CAMVID.ignore_index).all()
    # file list filter: D walks through the visible images only
    win.file_list.filter.setText("im2")
    qtbot.keyClick(win.canvas, Qt.Key.Key_D)
    assert win.current.path.name == "im2.png"


def test_corrupt_image_is_reported_and_skipped(make_window, image_folder, qtbot):
    (image_folder / "im1.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not a png")
    win = make_window(image_folder)
    assert win.current.path.name == "im0.png"
    qtbot.keyClick(win, Qt.Key.Key_D)
    assert win.current.path.name == "im2.png"  # im1 skipped
    assert win.file_list.state(image_folder.resolve() / "im1.png") is None
    assert any("im1.png" in p for p in win.problems)
    assert "im1.png" in win.statusBar().currentMessage()
    qtbot.keyClick(win, Qt.Key.Key_A)
    assert win.current.path.name == "im0.png"


def test_bad_mask_is_reported_and_never_overwritten(make_window, image_folder, qtbot):
    masks = image_folder / "SegmentationClass"
    masks.mkdir()
    Image.fromarray(np.zeros((10, 10), np.uint8), "L").save(masks / "im0.png")  # wrong size
    original = (masks / "im0.png").read_bytes()
    win = make_window(image_folder)
    assert any("10x10" in p and "96x64" in p for p in win.problems)
    assert not win.canvas.editable
    _paint(qtbot, win.canvas, 5, 5, 30, 30)
    win.save_all()
    qtbot.keyClick(win, Qt.Key.Key_D)
    assert (masks / "im0.png").read_bytes() == original


def test_failed_save_keeps_marker_and_close_asks(make_window, image_folder, qtbot, monkeypatch):
    win = make_window(image_folder, autosave_ms=60000)
    masks = image_folder / "SegmentationClass"
    masks.write_text("a file where the masks folder should be")  # every save fails, even as root
    _paint(qtbot, win.canvas, 5, 5, 30, 30)
    assert not win.save_current()
    assert win.isWindowModified()
    assert any("cannot save" in p and "im0.png" in p for p in win.problems)
    asked = []
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *a, **k: asked.append(a[2]) or QMessageBox.StandardButton.No)
    win.close()
    assert asked and "im0.png" in asked[0]
    assert win.isVisible()  # refused to close
    masks.unlink()
    win.close()
    assert not win.isVisible()
    assert (read_label_png(masks / "im0.png") == 0).sum() > 100  # class 0 painted, saved at close
    assert len(asked) == 1


def test_opening_a_missing_folder_keeps_the_current_one_editable(make_window, image_folder, tmp_path, qtbot):
    win = make_window(image_folder)
    _paint(qtbot, win.canvas, 5, 5, 30, 30)
    assert not win.open_path(tmp_path / "nope")
    assert "nope" in win.last_error
    _paint(qtbot, win.canvas, 5, 40, 30, 40)  # still works on the same image
    assert win.current.history_length == 2
    qtbot.keyClick(win.canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert win.current.history_index == 1


def test_recent_folders_menu_reopens(make_window, image_folder, tmp_path, qtbot):
    other = tmp_path / "other"
    other.mkdir()
    Image.new("RGB", (20, 10)).save(other / "x.png")
    win = make_window(image_folder)
    assert win.open_path(other)
    entries = [a.text() for a in win.recent_menu.actions()]
    assert entries == [str(other.resolve()), str(image_folder.resolve())]
    win.recent_menu.actions()[1].trigger()
    assert win.project.images_dir == image_folder.resolve()
    assert win.current.path.name == "im0.png"
    # a new window sees the same recent list (settings persist)
    win2 = make_window()
    assert [a.text() for a in win2.recent_menu.actions()][0] == str(image_folder.resolve())


def test_prefetched_mask_is_used_only_if_the_file_is_unchanged(make_window, image_folder, qtbot):
    import time

    from segstudio.core.imageio import write_label_png

    masks = image_folder / "SegmentationClass"
    write_label_png(masks / "im1.png", np.full((64, 96), 2, np.uint8), CAMVID)
    write_label_png(masks / "im2.png", np.full((64, 96), 3, np.uint8), CAMVID)
    win = make_window(image_folder)  # im0 open: im1's mask is read ahead
    qtbot.waitUntil(lambda: masks / "im1.png" in win.prefetcher._masks
                    and win.prefetcher._masks[masks / "im1.png"].done())
    time.sleep(0.01)
    write_label_png(masks / "im1.png", np.full((64, 96), 5, np.uint8), CAMVID)  # changed on disk meanwhile
    qtbot.keyClick(win, Qt.Key.Key_D)
    assert (win.canvas.labels == 5).all()
    qtbot.waitUntil(lambda: masks / "im2.png" in win.prefetcher._masks
                    and win.prefetcher._masks[masks / "im2.png"].done())
    qtbot.keyClick(win, Qt.Key.Key_D)
    assert (win.canvas.labels == 3).all()  # unchanged: the prefetched copy
    assert win.canvas.labels.flags.writeable
