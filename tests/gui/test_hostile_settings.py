"""A damaged settings file (issue 25 item 2): the studio starts with the defaults, keeps the damaged file
beside it, says so once, and a value of the wrong type is dropped instead of stopping the start."""

import pytest
from PySide6.QtCore import QSettings

from segstudio.gui import settings_store
from segstudio.gui.canvas import Tool


def _window(qtbot, path, image_folder):
    from segstudio.gui.main_window import MainWindow

    win = MainWindow(settings=QSettings(str(path), QSettings.Format.IniFormat), autosave_ms=60, scan_models=False)
    qtbot.addWidget(win)
    win.show()
    assert win.open_path(image_folder, labels="camvid")
    return win


def test_an_unparsable_settings_file_gives_the_defaults_and_is_kept(tmp_path, qtbot, image_folder):
    path = tmp_path / "segstudio.ini"
    garbage = b"\x00\xff\xfe[General]\x00\x01garbage==\n\n[[[\xff"
    path.write_bytes(garbage)
    win = _window(qtbot, path, image_folder)
    assert win.size_spin.value() == 15 and win.opacity_slider.value() == 50
    assert win.prediction.cache.scale is None and win.canvas.tool == Tool.BRUSH
    kept = tmp_path / "segstudio.ini.damaged"
    assert kept.read_bytes() == garbage
    assert str(path) in settings_store.problem and "segstudio.ini.damaged" in settings_store.problem
    win.size_spin.setValue(22)
    assert win.close()
    assert kept.read_bytes() == garbage  # the next settings are written beside it, not over it
    again = _window(qtbot, path, image_folder)
    assert again.size_spin.value() == 22 and settings_store.problem is None
    assert again.close()


@pytest.mark.parametrize("lines", [
    "[view]\nopacity=1e99\n", "[tools]\nbrush_size=abc\n", "[tools]\nassist=@ByteArray(\\xff)\n",
    "[window]\ngeometry=garbage\nstate=@Variant(\\0\\0\\0\\x7f)\n", "[predict]\nscale=nan\ntta=bogus\n",
    "[General]\nrecent=@Invalid()\n", "[tools]\ntool=@Variant(\\0\\0\\0\\x7f\\0\\0\\0\\x0bQUuid)\n",
], ids=["opacity 1e99", "brush abc", "assist bytes", "window garbage", "scale nan", "recent invalid", "tool variant"])
def test_a_value_of_the_wrong_type_is_dropped(tmp_path, qtbot, image_folder, lines):
    path = tmp_path / "segstudio.ini"
    path.write_text(lines)
    win = _window(qtbot, path, image_folder)
    assert 0 <= win.opacity_slider.value() <= 100 and win.size_spin.value() >= 1
    assert win.prediction.cache.scale is None and win.prediction.cache.tta is None
    assert win.close()


def test_a_folder_in_place_of_the_settings_file(tmp_path, qtbot, image_folder):
    path = tmp_path / "segstudio.ini"
    path.mkdir()
    win = _window(qtbot, path, image_folder)
    assert "cannot be read or written" in settings_store.problem and str(path) in settings_store.problem
    assert win.close() and path.is_dir()
