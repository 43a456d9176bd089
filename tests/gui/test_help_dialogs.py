"""Help → Keyboard Shortcuts lists every action that has a shortcut (searchable); About names versions and folders."""

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow

from segstudio import paths
from segstudio.gui.help_dialogs import AboutDialog, ShortcutsDialog, _plain, shortcut_rows


def _window(qtbot):
    win = QMainWindow()
    qtbot.addWidget(win)
    file_menu = win.menuBar().addMenu("&File")
    export = file_menu.addMenu("&Export")
    for text, key, menu in (("&Open Folder…", "Ctrl+O", file_menu), ("COCO JSON…", "Ctrl+Shift+E", export),
                            ("&Brush", "B", None), ("No Shortcut", None, file_menu)):
        a = QAction(text, win)
        if key:
            a.setShortcut(QKeySequence(key))
        (menu or win).addAction(a)
    redo = QAction("&Redo", win)
    redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
    win.menuBar().addMenu("&Edit").addAction(redo)
    return win


def test_every_action_with_a_shortcut_is_listed_with_its_menu(qtbot):
    win = _window(qtbot)
    rows = {name: (keys, where) for name, keys, where in shortcut_rows(win)}
    native = lambda k: QKeySequence(k).toString(QKeySequence.SequenceFormat.NativeText)  # noqa: E731
    assert rows == {"Open Folder": (native("Ctrl+O"), "File"),
                    "COCO JSON": (native("Ctrl+Shift+E"), "File › Export"),
                    "Brush": ("B", "window"),
                    "Redo": (f"{native('Ctrl+Shift+Z')}, {native('Ctrl+Y')}", "Edit")}
    # Generated from the actions: a shortcut added later shows up the next time it opens.
    extra = QAction("Zoom &In", win)
    extra.setShortcut(QKeySequence("Ctrl++"))
    win.addAction(extra)
    dialog = ShortcutsDialog(win)
    qtbot.addWidget(dialog)
    assert sorted(dialog.visible_actions()) == ["Brush", "COCO JSON", "Open Folder", "Redo", "Zoom In"]


def test_the_search_box_filters_by_name_menu_or_key(qtbot):
    win = _window(qtbot)
    dialog = ShortcutsDialog(win)
    qtbot.addWidget(dialog)
    qtbot.keyClicks(dialog.search, "export")
    assert dialog.visible_actions() == ["COCO JSON"]
    dialog.search.setText("ctrl+y")
    assert dialog.visible_actions() == ["Redo"]
    dialog.search.setText("")
    assert len(dialog.visible_actions()) == 4


def test_about_names_versions_device_and_model_folders(qtbot):
    dialog = AboutDialog()
    qtbot.addWidget(dialog)
    text = dialog.label.text()
    for needle in ("segstudio", "Python", "PyTorch", "2.13", "PySide6", "Device", str(paths.user_models_dir()),
                   str(paths.shipped_models_dir())):
        assert needle in text


def test_the_studio_help_menu_lists_every_action_with_a_shortcut(make_window, image_folder):
    win = make_window(image_folder)
    help_menu = next(a.menu() for a in win.menuBar().actions() if a.text() == "&Help")
    assert [a.text() for a in help_menu.actions()] == ["&Keyboard Shortcuts…", "&About segstudio…"]
    win.act_shortcuts.trigger()
    dialog = win._help_dialog
    assert isinstance(dialog, ShortcutsDialog) and dialog.isVisible()
    listed = set(dialog.visible_actions())
    with_keys = {a for a in win.findChildren(QAction) if any(not k.isEmpty() for k in a.shortcuts())}
    assert len(with_keys) >= 20 and len(listed) == len({_plain(a.text()) for a in with_keys})
    for name in ("Undo", "Redo", "Brush", "Fill", "Predict This Image", "Next Image", "Keyboard Shortcuts"):
        assert name in listed
    win.act_about.trigger()
    assert isinstance(win._help_dialog, AboutDialog) and not dialog.isVisible()
