"""Help → Keyboard Shortcuts lists every action that has a shortcut (searchable); About names versions and folders;
User Guide shows docs/guide and follows its links."""

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QAction, QImage, QKeySequence, QTextCursor, QTextDocument
from PySide6.QtWidgets import QMainWindow

from segstudio import paths
from segstudio.gui import help_dialogs
from segstudio.gui.help_dialogs import AboutDialog, ShortcutsDialog, UserGuideDialog, _plain, shortcut_rows


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
    assert [a.text() for a in help_menu.actions()] == ["&User Guide…", "&Keyboard Shortcuts…", "&About segstudio…"]
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


def _help_action(win, text):
    help_menu = next(a.menu() for a in win.menuBar().actions() if _plain(a.text()) == "Help")
    return next(a for a in help_menu.actions() if _plain(a.text()) == text)


def _click_link(qtbot, browser, href):
    """Click the first link to href in the browser's page, as a user does."""
    block = browser.document().begin()
    while block.isValid():
        it = block.begin()
        while not it.atEnd():
            fragment = it.fragment()
            if fragment.charFormat().anchorHref() == href:
                cursor = QTextCursor(browser.document())
                cursor.setPosition(fragment.position() + 1)
                browser.ensureCursorVisible()
                browser.setTextCursor(cursor)
                browser.ensureCursorVisible()
                qtbot.mouseClick(browser.viewport(), Qt.MouseButton.LeftButton, pos=browser.cursorRect(cursor).center())
                return
            it += 1
        block = block.next()
    raise AssertionError(f"no link to {href}")


def test_help_user_guide_opens_the_guide_and_follows_its_links(make_window, qtbot):
    win = make_window()
    _help_action(win, "User Guide").trigger()
    dialog = win._help_dialog
    assert isinstance(dialog, UserGuideDialog) and dialog.isVisible()
    assert dialog.index == paths.REPO_DIR / "docs" / "guide" / "README.md"
    text = dialog.browser.toPlainText()
    assert "segstudio user guide" in text and "Assisted correction" in text
    # A link between pages opens the page; its screenshots resolve next to docs/guide.
    _click_link(qtbot, dialog.browser, "studio.md")
    assert dialog.browser.source().toLocalFile().endswith("docs/guide/studio.md")
    assert "Protect other classes" in dialog.browser.toPlainText()
    shot = dialog.browser.loadResource(QTextDocument.ResourceType.ImageResource.value, QUrl("../screenshot-eval.png"))
    assert not QImage.fromData(shot).isNull()
    # Screenshots, two to a table row too, fit the page's width: no sideways scrolling.
    dialog.browser.setSource(QUrl("assisted.md"))
    assert dialog.browser.toPlainText().startswith("Assisted correction")
    assert dialog.browser.horizontalScrollBar().maximum() == 0
    dialog.browser.backward()
    dialog.browser.backward()
    assert "segstudio user guide" in dialog.browser.toPlainText()


def test_a_page_missing_from_this_copy_is_said(qtbot, tmp_path):
    (tmp_path / "README.md").write_text("# Contents\n\n[gone](gone.md)\n")
    dialog = UserGuideDialog(index=tmp_path / "README.md")
    qtbot.addWidget(dialog)
    assert dialog.browser.toPlainText().startswith("Contents")
    dialog.browser.setSource(QUrl("gone.md"))
    assert f"{tmp_path / 'gone.md'} is not part of this copy" in dialog.browser.toPlainText()
    dialog.browser.home()
    assert dialog.browser.toPlainText().startswith("Contents")


def test_the_guide_is_found_where_a_wheel_installs_it(qtbot, tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "REPO_DIR", tmp_path / "site-packages")  # no docs/ beside an installed package
    monkeypatch.setattr(help_dialogs.sysconfig, "get_path", lambda name, scheme: str(tmp_path / scheme))
    assert help_dialogs.guide_index() is None
    dialog = UserGuideDialog()
    qtbot.addWidget(dialog)
    assert "not installed with this copy" in dialog.browser.toPlainText()
    installed = tmp_path / help_dialogs.sysconfig.get_preferred_scheme("user") / "share" / "segstudio" / "guide"
    installed.mkdir(parents=True)
    (installed / "README.md").write_text("# Installed guide\n")
    assert help_dialogs.guide_index() == installed / "README.md"
