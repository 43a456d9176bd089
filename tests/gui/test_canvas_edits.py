"""Editing with real mouse and key events: brush, eraser, undo/redo, polygon, fill, picking."""

import numpy as np
from PySide6.QtCore import QPoint, QPointF, Qt

from segstudio.core import labelmap as lm
from segstudio.gui.canvas import Tool

from segstudio.core.labels import preset

CAMVID = preset("camvid")
IGN = CAMVID.ignore_index


def drag(qtbot, canvas, points, button=Qt.MouseButton.LeftButton, mods=Qt.KeyboardModifier.NoModifier):
    qtbot.mousePress(canvas, button, mods, points[0])
    for p in points[1:]:
        qtbot.mouseMove(canvas, p)
    qtbot.mouseRelease(canvas, button, mods, points[-1])


def test_brush_drag_paints_exactly_the_stroke_and_undo_redo_are_bit_exact(make_window, image_folder, qtbot, wpos):
    win = make_window(image_folder)
    c = win.canvas
    c.zoom_to(4.0, QPointF(0, 0))  # 4 screen px per image px
    win.set_current_class(2)
    qtbot.keyClick(win, Qt.Key.Key_B)
    win.size_spin.setValue(5)
    before = c.labels.copy()
    wps = [wpos(c, 10.2, 10.7), wpos(c, 30, 12), wpos(c, 60, 40), wpos(c, 20, 50)]
    drag(qtbot, c, wps)
    img_pts = [c.to_image(QPointF(p)) for p in wps]
    expected = lm.stroke_mask(c.labels.shape, img_pts, 5)
    assert expected.sum() > 300
    assert np.array_equal(c.labels == 2, expected)
    assert np.array_equal(c.labels[~expected], before[~expected])
    assert win.current.history_length == 1  # one undo step per stroke
    after = c.labels.copy()
    qtbot.keyClick(c, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert np.array_equal(c.labels, before)
    qtbot.keyClick(c, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert np.array_equal(c.labels, after)
    qtbot.keyClick(c, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(c, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    assert np.array_equal(c.labels, after)
    assert np.array_equal(win.current.counts[:CAMVID.num_classes + 1],
                          np.bincount(c.labels.ravel(), minlength=256)[:CAMVID.num_classes + 1])


def two_class_window(make_window, image_folder):
    """The studio at 4x zoom on a map of class 1, class 3 from column 40."""
    win = make_window(image_folder)
    c = win.canvas
    c.zoom_to(4.0, QPointF(0, 0))
    c.labels[:, :] = 1
    c.labels[:, 40:] = 3
    return win, c


def test_eraser_protect_and_brush_size_keys(make_window, image_folder, qtbot, wpos):
    win, c = two_class_window(make_window, image_folder)
    qtbot.keyClick(win, Qt.Key.Key_E)
    assert c.tool == Tool.ERASER
    win.size_spin.setValue(10)
    qtbot.keyClick(win, Qt.Key.Key_BracketRight)
    assert win.size_spin.value() > 10
    qtbot.keyClick(win, Qt.Key.Key_BracketLeft)
    qtbot.keyClick(win, Qt.Key.Key_BracketLeft)
    assert c.brush_size == win.size_spin.value() < 10
    drag(qtbot, c, [wpos(c, 5, 30), wpos(c, 50, 30)])
    assert (c.labels[30, 5:50] == IGN).all()
    # protect: paint class 5 only over unlabelled pixels
    qtbot.keyClick(win, Qt.Key.Key_B)
    win.set_current_class(5)
    win.protect_box.setChecked(True)
    win.size_spin.setValue(31)
    before = c.labels.copy()
    wps = [wpos(c, 30, 30), wpos(c, 32, 31)]
    drag(qtbot, c, wps)
    fp = lm.stroke_mask(c.labels.shape, [c.to_image(QPointF(p)) for p in wps], 31)
    painted = fp & (before == IGN)
    assert painted.sum() > 100 and (fp & (before != IGN)).sum() > 100
    assert (c.labels[painted] == 5).all()
    assert np.array_equal(c.labels[~painted], before[~painted])
    # protect "unlabelled + class 3": class-3 pixels under the brush are painted too, class 1 is not
    win.protect_combo.setCurrentIndex(2 + 3)
    assert win.protect_combo.currentText() == f"paint over unlabelled and {CAMVID.names[3]}"
    before = c.labels.copy()
    drag(qtbot, c, wps)
    painted = fp & ((before == IGN) | (before == 3))
    assert (before[fp] == 3).any() and (c.labels[painted] == 5).all()
    assert np.array_equal(c.labels[~painted], before[~painted])


def test_protect_the_class_under_the_press_follows_each_stroke_and_polygon(make_window, image_folder, qtbot, wpos):
    win, c = two_class_window(make_window, image_folder)
    c.labels[60:, :] = IGN
    win.set_current_class(5)
    win.protect_box.setChecked(True)
    win.protect_combo.setCurrentIndex(1)
    assert win.protect_combo.currentText() == "paint over unlabelled and start class"
    assert "where it starts" in win.protect_combo.itemData(1, Qt.ItemDataRole.ToolTipRole)
    win.size_spin.setValue(21)
    # a stroke that starts on class 1 and crosses class 3 and unlabelled pixels paints over class 1 and unlabelled only
    before = c.labels.copy()
    wps = [wpos(c, 30.5, 55.5), wpos(c, 50.5, 62.5)]
    drag(qtbot, c, wps)
    fp = lm.stroke_mask(c.labels.shape, [c.to_image(QPointF(p)) for p in wps], 21)
    painted = fp & ((before == 1) | (before == IGN))
    assert (fp & (before == 3)).sum() > 50 and (fp & (before == IGN)).sum() > 50
    assert (c.labels[painted] == 5).all() and np.array_equal(c.labels[~painted], before[~painted])
    # the next stroke starts on class 3: now class 3 is painted and class 1 is left alone
    before = c.labels.copy()
    wps = [wpos(c, 45.5, 30.5), wpos(c, 35.5, 30.5)]
    drag(qtbot, c, wps)
    fp = lm.stroke_mask(c.labels.shape, [c.to_image(QPointF(p)) for p in wps], 21)
    painted = fp & ((before == 3) | (before == IGN))
    assert (fp & (before == 1)).sum() > 50
    assert (c.labels[painted] == 5).all() and np.array_equal(c.labels[~painted], before[~painted])
    # a polygon takes the class under its first vertex
    qtbot.keyClick(win, Qt.Key.Key_P)
    before = c.labels.copy()
    for x, y in [(5, 5), (70, 5), (70, 20), (5, 20)]:
        qtbot.mouseClick(c, Qt.MouseButton.LeftButton, pos=wpos(c, x + 0.5, y + 0.5))
    qtbot.keyClick(c, Qt.Key.Key_Return)
    inside = lm.polygon_mask(c.labels.shape, [(5.5, 5.5), (70.5, 5.5), (70.5, 20.5), (5.5, 20.5)])
    full = np.zeros(c.labels.shape, bool)
    (x0, y0, x1, y1), m = inside
    full[y0:y1, x0:x1] = m
    painted = full & (before == 1)
    assert (full & (before == 3)).sum() > 100
    assert (c.labels[painted] == 5).all() and np.array_equal(c.labels[~painted], before[~painted])
    qtbot.keyClick(c, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert np.array_equal(c.labels, before)


def test_polygon_clicks_enter_backspace_escape_and_double_click(make_window, image_folder, qtbot, wpos):
    win = make_window(image_folder)
    c = win.canvas
    c.zoom_to(4.0, QPointF(0, 0))
    win.set_current_class(4)
    qtbot.keyClick(win, Qt.Key.Key_P)
    assert c.tool == Tool.POLYGON
    before = c.labels.copy()
    for x, y in [(10, 10), (40, 10), (77, 77), (40, 40)]:
        qtbot.mouseClick(c, Qt.MouseButton.LeftButton, pos=wpos(c, x + 0.5, y + 0.5))
    qtbot.keyClick(c, Qt.Key.Key_Backspace)  # drop (40, 40)
    qtbot.keyClick(c, Qt.Key.Key_Backspace)  # drop (77, 77)
    qtbot.mouseClick(c, Qt.MouseButton.LeftButton, pos=wpos(c, 40.5, 40.5))
    qtbot.mouseClick(c, Qt.MouseButton.LeftButton, pos=wpos(c, 10.5, 40.5))
    assert np.array_equal(c.labels, before)  # nothing filled before Enter
    qtbot.keyClick(c, Qt.Key.Key_Return)
    exp = before.copy()
    exp[10:41, 10:41] = 4
    assert np.array_equal(c.labels, exp)
    assert win.current.history_length == 1
    # Esc cancels a polygon in progress
    for x, y in [(50, 5), (60, 5), (60, 15)]:
        qtbot.mouseClick(c, Qt.MouseButton.LeftButton, pos=wpos(c, x + 0.5, y + 0.5))
    qtbot.keyClick(c, Qt.Key.Key_Escape)
    qtbot.keyClick(c, Qt.Key.Key_Return)
    assert np.array_equal(c.labels, exp)
    # double-click closes: triangle
    for x, y in [(50, 45), (70, 45), (70, 60)]:
        qtbot.mouseClick(c, Qt.MouseButton.LeftButton, pos=wpos(c, x + 0.5, y + 0.5))
    # a real double-click is press, release, double-click, release at the last vertex
    qtbot.mouseDClick(c, Qt.MouseButton.LeftButton, pos=wpos(c, 70.5, 60.5))
    assert c.labels[46, 69] == 4 and c.labels[59, 51] == IGN
    assert win.current.history_length == 2


def test_fill_and_alt_click_pick_and_ctrl_digit(make_window, image_folder, qtbot, wpos):
    win = make_window(image_folder)
    c = win.canvas
    c.zoom_to(4.0, QPointF(0, 0))
    c.labels[:, 30] = 7  # a wall splitting the unlabelled area
    qtbot.keyClick(win, Qt.Key.Key_3, Qt.KeyboardModifier.ControlModifier)
    assert c.current_class == 2
    qtbot.keyClick(win, Qt.Key.Key_F)
    qtbot.mouseClick(c, Qt.MouseButton.LeftButton, pos=wpos(c, 5.5, 5.5))
    assert (c.labels[:, :30] == 2).all() and (c.labels[:, 31:] == IGN).all()
    qtbot.mouseClick(c, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.AltModifier, wpos(c, 30.5, 3.5))
    assert c.current_class == 7
    assert win.class_panel.currentRow() == 7
    qtbot.keyClick(c, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert (c.labels[:, :30] == IGN).all()


def test_wheel_zoom_keeps_point_under_cursor_and_pan(make_window, image_folder, qtbot, wpos):
    win = make_window(image_folder)
    c = win.canvas
    qtbot.keyClick(win, Qt.Key.Key_0, Qt.KeyboardModifier.ControlModifier)
    assert c.scale == 1.0
    p = QPoint(c.width() // 2 + 7, c.height() // 2 - 5)
    before = c.to_image(QPointF(p))
    from PySide6.QtCore import QPointF as PF
    from PySide6.QtGui import QWheelEvent
    ev = QWheelEvent(PF(p), PF(c.mapToGlobal(p)), QPoint(0, 0), QPoint(0, 240), Qt.MouseButton.NoButton,
                     Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    c.wheelEvent(ev)
    assert abs(c.scale - 1.5625) < 1e-9
    after = c.to_image(QPointF(p))
    assert abs(after[0] - before[0]) < 1 and abs(after[1] - before[1]) < 1
    off = QPointF(c.offset)
    drag(qtbot, c, [QPoint(100, 100), QPoint(130, 90)], button=Qt.MouseButton.MiddleButton)
    assert c.offset - off == QPointF(30, -10)
    labels = c.labels.copy()
    qtbot.keyPress(c, Qt.Key.Key_Space)
    drag(qtbot, c, [QPoint(100, 100), QPoint(90, 100)])
    qtbot.keyRelease(c, Qt.Key.Key_Space)
    assert c.offset - off == QPointF(20, -10)
    assert np.array_equal(c.labels, labels)  # panning did not paint
    qtbot.keyClick(win, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert c.scale == min(c.width() / 96, c.height() / 64)


def test_shortcuts_wait_while_a_stroke_is_held(make_window, image_folder, qtbot, wpos):
    win = make_window(image_folder)
    c = win.canvas
    c.zoom_to(4.0, QPointF(0, 0))
    drag(qtbot, c, [wpos(c, 5, 5), wpos(c, 20, 5)])
    qtbot.mousePress(c, Qt.MouseButton.LeftButton, pos=wpos(c, 5, 30))
    qtbot.mouseMove(c, wpos(c, 40, 30))
    qtbot.keyClick(c, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # ignored mid-stroke
    qtbot.keyClick(c, Qt.Key.Key_D)  # so is "next image"
    qtbot.mouseRelease(c, Qt.MouseButton.LeftButton, pos=wpos(c, 40, 30))
    assert win.current.path.name == "im0.png"
    assert win.current.history_length == 2 and win.current.history_index == 2
    qtbot.keyClick(c, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(c, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert (c.labels == CAMVID.ignore_index).all()  # both strokes undone cleanly


def test_each_edit_repaints_its_rectangle_once(make_window, image_folder, qtbot, wpos, monkeypatch):
    win = make_window(image_folder)
    c = win.canvas
    c.zoom_to(4.0, QPointF(0, 0))
    calls = []
    orig = c.refresh
    monkeypatch.setattr(c, "refresh", lambda bbox=None: (calls.append(bbox), orig(bbox)))
    qtbot.keyClick(win, Qt.Key.Key_F)
    qtbot.mouseClick(c, Qt.MouseButton.LeftButton, pos=wpos(c, 5.5, 5.5))
    assert calls == [(0, 0, 96, 64)]  # the fill, once
    calls.clear()
    qtbot.keyClick(win, Qt.Key.Key_B)
    win.set_current_class(3)
    drag(qtbot, c, [wpos(c, 5, 5), wpos(c, 20, 5), wpos(c, 30, 9)])
    assert len(calls) == 3 and all(b is not None for b in calls)  # press + two moves; the release adds none
    calls.clear()
    qtbot.keyClick(c, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert len(calls) == 1 and win.current.history_index == 1 and win.act_redo.text() == "&Redo Brush stroke"
    assert win.act_undo.text() == "&Undo Fill"
