"""What the canvas draws: overlay colours, opacity, hide, outline, ground truth, disagreement."""

import numpy as np
from PIL import Image
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor

from segstudio.core.labels import preset

CAMVID = preset("camvid")
GRAY = (100, 100, 100)


def _gray_folder(tmp_path):
    d = tmp_path / "gray"
    d.mkdir()
    Image.new("RGB", (80, 60), GRAY).save(d / "a.png")
    gt = tmp_path / "gt"
    gt.mkdir()
    g = np.full((60, 80), 1, np.uint8)
    g[:, 40:] = 8
    Image.fromarray(g, "L").save(gt / "a.png")
    return d, gt


def _rgb(canvas, x, y):
    img = canvas.grab().toImage()
    p = canvas.to_widget(x + 0.5, y + 0.5).toPoint()
    c = QColor(img.pixel(p))
    return c.red(), c.green(), c.blue()


def _close(a, b, tol=3):
    return all(abs(int(u) - int(v)) <= tol for u, v in zip(a, b))


def test_overlay_opacity_hide_and_outline_change_rendered_pixels(make_window, tmp_path, qtbot):
    d, _ = _gray_folder(tmp_path)
    win = make_window(d)
    c = win.canvas
    c.zoom_to(4.0, QPointF(0, 0))
    c.labels[10:30, 10:30] = 3  # Road (128, 64, 128)
    c.refresh((10, 10, 30, 30))
    col = CAMVID.colors[3]
    win.opacity_slider.setValue(100)
    assert _close(_rgb(c, 20, 20), col)
    assert _close(_rgb(c, 50, 50), GRAY)  # unlabelled is transparent
    win.opacity_slider.setValue(50)
    half = tuple((a + b) / 2 for a, b in zip(col, GRAY))
    assert _close(_rgb(c, 20, 20), half)
    qtbot.keyClick(win, Qt.Key.Key_H)  # hide
    assert win.act_hide.isChecked()
    assert _close(_rgb(c, 20, 20), GRAY)
    qtbot.keyClick(win, Qt.Key.Key_H)
    assert _close(_rgb(c, 20, 20), half)
    win.opacity_slider.setValue(100)
    qtbot.keyClick(win, Qt.Key.Key_O)  # outline only
    assert _close(_rgb(c, 20, 20), GRAY)    # interior
    assert _close(_rgb(c, 10, 20), col)     # boundary
    assert _close(_rgb(c, 29, 15), col)


def test_dirty_rect_repaint_shows_brush_at_zoomed_out_scale(make_window, tmp_path, qtbot):
    d, _ = _gray_folder(tmp_path)
    win = make_window(d)
    c = win.canvas
    c.zoom_to(0.25, QPointF(0, 0))  # overlay sampled every 4 pixels
    assert c.step() == 4
    win.opacity_slider.setValue(100)
    win.set_current_class(8)
    win.size_spin.setValue(30)
    p = c.to_widget(40, 30).toPoint()
    qtbot.mousePress(c, Qt.MouseButton.LeftButton, pos=p)
    qtbot.mouseRelease(c, Qt.MouseButton.LeftButton, pos=p)
    img = c.grab().toImage()
    got = QColor(img.pixel(p))
    assert _close((got.red(), got.green(), got.blue()), CAMVID.colors[8])


def test_ground_truth_view_disagreement_and_metrics(make_window, tmp_path, qtbot):
    d, gt = _gray_folder(tmp_path)
    win = make_window(d)
    win.set_gt_dir(gt)
    c = win.canvas
    c.zoom_to(4.0, QPointF(0, 0))
    win.opacity_slider.setValue(100)
    assert win.gt_scores() is not None
    assert win.metrics_label.text() == "vs GT: nothing labelled yet"
    qtbot.keyClick(win, Qt.Key.Key_G)
    assert _close(_rgb(c, 5, 5), CAMVID.colors[1]) and _close(_rgb(c, 60, 5), CAMVID.colors[8])
    # editing is disabled while the ground truth is shown
    before = c.labels.copy()
    qtbot.mouseClick(c, Qt.MouseButton.LeftButton, pos=c.to_widget(5, 5).toPoint())
    assert np.array_equal(c.labels, before)
    qtbot.keyClick(win, Qt.Key.Key_G)
    # fill the left half with the right class: accuracy 50%, metrics follow the edit
    win.set_current_class(1)
    qtbot.keyClick(win, Qt.Key.Key_P)
    for x, y in [(0, 0), (39, 0), (39, 59), (0, 59)]:
        qtbot.mouseClick(c, Qt.MouseButton.LeftButton, pos=c.to_widget(x + 0.5, y + 0.5).toPoint())
    qtbot.keyClick(c, Qt.Key.Key_Return)
    acc, miou, unlabelled = win.gt_scores()
    assert acc == 0.5 and unlabelled == 0.5
    qtbot.waitUntil(lambda: "acc 50.0%" in win.metrics_label.text())
    assert "(50.0% unlabelled)" in win.metrics_label.text()
    qtbot.keyClick(win, Qt.Key.Key_H)  # hide overlay, show only disagreement
    qtbot.keyClick(win, Qt.Key.Key_G, Qt.KeyboardModifier.ShiftModifier)
    assert win.act_disagree.isChecked()
    a, b = _rgb(c, 5, 5), _rgb(c, 60, 5)
    assert _close(a, GRAY)      # agrees
    assert not _close(b, GRAY) and b[0] > 200 and b[2] > 200  # magenta where they disagree
