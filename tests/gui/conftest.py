"""Fixtures for the studio's widget tests: redirected settings, a small image folder, the window."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPoint, QSettings



@pytest.fixture
def studio_settings(tmp_path):
    """QSettings redirected into tmp_path so no real settings are touched."""
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    s = QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, "segstudio-test", "segstudio")
    s.clear()
    return s


def make_folder(folder, n=3, size=(96, 64), seed=0):
    """n textured RGB PNG images of `size` (w, h)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        a = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
        Image.fromarray(a).save(folder / f"im{i}.png")
    return folder


@pytest.fixture
def image_folder(tmp_path):
    return make_folder(tmp_path / "images")


@pytest.fixture
def make_window(qtbot, studio_settings):
    from segstudio.gui.main_window import MainWindow

    made = []

    def factory(folder=None, labels="camvid", autosave_ms=60, **kw):
        win = MainWindow(settings=studio_settings, autosave_ms=autosave_ms, scan_models=False)
        qtbot.addWidget(win)
        win.resize(900, 640)
        with qtbot.waitActive(win):
            win.show()
            win.activateWindow()
        if folder is not None:
            assert win.open_path(folder, labels=labels, **kw)
        made.append(win)
        return win

    yield factory
    for w in made:
        w.prediction.wait(5000)


def _wpos(canvas, x, y) -> QPoint:
    """Widget point (integer) showing image point (x, y)."""
    return canvas.to_widget(x, y).toPoint()


@pytest.fixture
def wpos():
    return _wpos
