"""The studio's window appears before the heavy libraries load: importing the main window, building it and
painting it imports neither torch nor OpenCV nor numpy (they load with the first folder, image or model)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

HEAVY = ("torch", "cv2", "numpy", "PIL.Image")

IMPORT_ONLY = """
import json, sys
import segstudio.gui.main_window
print(json.dumps({m: m in sys.modules for m in sys.argv[1:]}))
"""

FIRST_PAINT = """
import json, sys
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication
app = QApplication([])
from segstudio.gui.main_window import MainWindow
seen = {}

class Probe(QObject):
    def eventFilter(self, obj, event):
        if not seen and obj is win and event.type() == QEvent.Type.Paint:
            seen.update({m: m in sys.modules for m in sys.argv[1:]})
            QTimer.singleShot(0, app.quit)
        return False

win = MainWindow(scan_models=False)
probe = Probe()
win.installEventFilter(probe)
win.show()
QTimer.singleShot(20000, app.quit)
app.exec()
print(json.dumps(seen))
"""


def _loaded(code: str, tmp_path) -> dict:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "config"),
               XDG_DATA_HOME=str(tmp_path / "data"), XDG_CACHE_HOME=str(tmp_path / "cache"))
    out = subprocess.run([sys.executable, "-c", code, *HEAVY], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_importing_the_main_window_loads_no_torch_opencv_or_numpy(tmp_path):
    assert _loaded(IMPORT_ONLY, tmp_path) == {m: False for m in HEAVY}


def test_the_first_paint_comes_before_torch_opencv_and_numpy_load(tmp_path):
    assert _loaded(FIRST_PAINT, tmp_path) == {m: False for m in HEAVY}


def test_the_state_filter_gets_every_state_once_the_window_is_painted(make_window, qtbot):
    from segstudio.core.project import ImageState

    combo = make_window().assist.review.state_combo  # no folder: nothing else adds the states
    qtbot.waitUntil(lambda: combo.count() == 1 + len(ImageState), timeout=5000)
    assert [combo.itemData(i) for i in range(combo.count())] == [None] + [s.value for s in ImageState]


def test_a_plain_launch_gets_the_parsers_defaults_without_building_it(monkeypatch):
    from segstudio import cli

    assert vars(cli._gui_parser().parse_args([])) == cli.GUI_DEFAULTS
    seen = {}

    def fake_run_app(args):
        seen.update(vars(args))
        return 0

    monkeypatch.setattr("segstudio.gui.app.run_app", fake_run_app)
    def no_parser():
        raise AssertionError("a plain launch built the argument parser")

    monkeypatch.setattr(cli, "_gui_parser", no_parser)
    assert cli.main([]) == 0 and seen == cli.GUI_DEFAULTS


def test_the_start_folder_is_not_opened_in_a_window_closed_before_its_first_paint(qtbot):
    from PySide6.QtWidgets import QMainWindow

    from segstudio.gui.app import _after_first_paint

    calls = []
    closed, shown = QMainWindow(), QMainWindow()
    qtbot.addWidget(closed)
    qtbot.addWidget(shown)
    _after_first_paint(closed, lambda: calls.append("closed"), fallback_ms=30)
    _after_first_paint(shown, lambda: calls.append("shown"), fallback_ms=30)
    closed.show()
    closed.close()  # the user closed it at once: the queued start must not open a folder in it
    shown.show()
    qtbot.waitUntil(lambda: "shown" in calls, timeout=5000)
    qtbot.wait(100)
    assert calls == ["shown"]
