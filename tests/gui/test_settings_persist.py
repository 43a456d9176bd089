"""The studio remembers its layout and habits between runs: window geometry, docks, opacity, tool, brush size."""

from PySide6.QtCore import Qt

from segstudio.gui.canvas import Tool


def test_a_restart_keeps_layout_docks_opacity_tool_and_brush_size(make_window, image_folder, qtbot):
    win = make_window(image_folder)
    win.opacity_slider.setValue(73)
    win.size_spin.setValue(27)
    win.tool_actions[Tool.FILL].trigger()
    assert win.canvas.tool == Tool.FILL
    win.classes_dock.hide()
    win.removeDockWidget(win.images_dock)
    win.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, win.images_dock)
    win.images_dock.show()
    win.resize(700, 500)  # fits the offscreen screen (restoreGeometry keeps windows on it)
    assert win.close()

    from segstudio.gui.main_window import MainWindow

    again = MainWindow(settings=win.settings, autosave_ms=60, scan_models=False)  # no resize by a fixture
    qtbot.addWidget(again)
    again.show()
    assert again.open_path(image_folder, labels="camvid")
    assert again.opacity_slider.value() == 73
    assert again.size_spin.value() == 27
    assert again.canvas.tool == Tool.FILL and again.tool_actions[Tool.FILL].isChecked()
    assert again.classes_dock.isHidden()
    assert again.dockWidgetArea(again.images_dock) == Qt.DockWidgetArea.RightDockWidgetArea
    assert (again.width(), again.height()) == (700, 500)
    assert again.close()


def test_an_unknown_remembered_tool_falls_back_to_the_brush(make_window, image_folder, studio_settings):
    studio_settings.setValue("tools/tool", "laser")
    win = make_window(image_folder)
    assert win.canvas.tool == Tool.BRUSH and win.tool_actions[Tool.BRUSH].isChecked()


def test_a_restart_brings_back_the_assisted_tool_not_fill(make_window, image_folder, qtbot):
    win = make_window(image_folder)
    win.assist.actions["wand"].trigger()
    assert win.assist.active is not None and win.canvas.tool == Tool.FILL
    assert win.close()

    from segstudio.gui.main_window import MainWindow

    again = MainWindow(settings=win.settings, autosave_ms=60, scan_models=False)
    qtbot.addWidget(again)
    assert again.assist.active is not None and again.assist.active.name == "wand"
    assert again.assist.actions["wand"].isChecked()
    assert not again.tool_actions[Tool.FILL].isChecked()
    assert again.close()
