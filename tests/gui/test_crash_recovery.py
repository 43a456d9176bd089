"""After a SIGKILL the last autosaved state is what reopens."""

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

CHILD = textwrap.dedent("""
    import sys, time
    import numpy as np
    from PySide6.QtCore import QSettings, Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication
    app = QApplication([])
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, sys.argv[2])
    from segstudio.gui.main_window import MainWindow

    def process_events_until(predicate, timeout_s):
        end = time.monotonic() + timeout_s
        while time.monotonic() < end and not predicate():
            app.processEvents()
            time.sleep(0.005)
        return predicate()

    win = MainWindow(autosave_ms=100, scan_models=False)
    win.resize(800, 600)
    win.show()
    win.open_path(sys.argv[1], labels="camvid")
    c = win.canvas
    win.set_current_class(6)
    a, b = c.to_widget(5, 5).toPoint(), c.to_widget(60, 40).toPoint()
    QTest.mousePress(c, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, a)
    QTest.mouseMove(c, b)
    QTest.mouseRelease(c, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, b)
    assert process_events_until(lambda: not win.current.dirty, 20)
    np.save(sys.argv[3], c.labels)
    print("autosaved", flush=True)
    while True:  # keep running until killed
        app.processEvents()
        time.sleep(0.01)
""")


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_sigkill_after_autosave_reopens_the_edit(make_window, image_folder, tmp_path):
    expected_file = tmp_path / "expected.npy"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(image_folder), str(tmp_path / "child-settings"),
                             str(expected_file)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)
    try:
        line = proc.stdout.readline()
        assert line.strip() == "autosaved", proc.stderr.read() if proc.poll() is not None else line
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    expected = np.load(expected_file)
    assert (expected == 6).sum() > 100
    assert not [p for p in (image_folder / "SegmentationClass").iterdir() if p.suffix == ".tmp"]
    win = make_window(image_folder)
    assert win.current.path.name == "im0.png"
    assert np.array_equal(win.canvas.labels, expected)
