"""Help → User Guide, Help → Keyboard Shortcuts and Help → About.

The user guide is the markdown of docs/guide, shown in a QTextBrowser that renders
it, follows the links between its pages and shows the screenshots they reference.
It is found in the source checkout (where an editable install runs from) or where a
wheel installs it: <prefix>/share/segstudio/guide (the data-files of pyproject.toml).

The shortcut list is generated from the window's own QActions each time it
opens (every action that has a shortcut, with the menu it sits in), so it
cannot go stale; a search box filters it by action, menu or key. About shows
the versions that matter in a bug report, the device prediction runs on and
the model folders, without importing torch just to say so.
"""

from __future__ import annotations

import platform
import sys
import sysconfig
from importlib import metadata
from pathlib import Path

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QAction, QKeySequence, QTextCursor, QTextDocument
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QHBoxLayout, QHeaderView, QLabel, QLineEdit, QMainWindow,
                               QMenu, QPushButton, QTableWidget, QTableWidgetItem, QTextBrowser, QVBoxLayout,
                               QWidget)

from segstudio import paths


def _plain(text: str) -> str:
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&").rstrip("…").strip()


def _menu_paths(window: QMainWindow) -> dict[QAction, str]:
    """Each action reachable from the menu bar -> 'Menu › Submenu'."""
    found: dict[QAction, str] = {}

    def walk(menu: QMenu, trail: str) -> None:
        for a in menu.actions():
            if a.menu() is not None:
                walk(a.menu(), f"{trail} › {_plain(a.text())}")
            elif not a.isSeparator():
                found.setdefault(a, trail)

    for top in window.menuBar().actions():
        if top.menu() is not None:
            walk(top.menu(), _plain(top.text()))
    return found


def shortcut_rows(window: QMainWindow) -> list[tuple[str, str, str]]:
    """(action, shortcuts, where) for every action of the window that has a shortcut."""
    where = _menu_paths(window)
    rows, seen = [], set()
    for a in window.findChildren(QAction):
        keys = [k.toString(QKeySequence.SequenceFormat.NativeText) for k in a.shortcuts() if not k.isEmpty()]
        if not keys or id(a) in seen:
            continue
        seen.add(id(a))
        rows.append((_plain(a.text()) or a.objectName(), ", ".join(keys), where.get(a, "window")))
    return sorted(rows, key=lambda r: (r[2], r[0]))


class ShortcutsDialog(QDialog):
    """A searchable table of the window's keyboard shortcuts."""

    def __init__(self, window: QMainWindow, parent: QWidget | None = None) -> None:
        super().__init__(parent or window)
        self.setWindowTitle("Keyboard Shortcuts")
        self.resize(560, 520)
        self.search = QLineEdit(self)
        self.search.setPlaceholderText("Search actions, menus or keys…")
        self.search.setClearButtonEnabled(True)
        self.table = QTableWidget(0, 3, self)
        self.table.setHorizontalHeaderLabels(["Action", "Shortcut", "Menu"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for row, values in enumerate(shortcut_rows(window)):
            self.table.insertRow(row)
            for col, value in enumerate(values):
                self.table.setItem(row, col, QTableWidgetItem(value))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.search)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self.search.textChanged.connect(self.apply_filter)
        self.search.setFocus()

    def apply_filter(self, text: str) -> None:
        needle = text.strip().lower()
        for row in range(self.table.rowCount()):
            hay = " ".join(self.table.item(row, c).text().lower() for c in range(3))
            self.table.setRowHidden(row, bool(needle) and needle not in hay)

    def visible_actions(self) -> list[str]:
        return [self.table.item(r, 0).text() for r in range(self.table.rowCount()) if not self.table.isRowHidden(r)]


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def device_text() -> str:
    """Where prediction runs, as far as can be told without importing torch."""
    torch = sys.modules.get("torch")
    if torch is None:
        return "not checked yet (the model is not loaded)"
    if torch.cuda.is_available():
        return f"CUDA: {torch.cuda.get_device_name(0)}"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "Apple MPS"
    from segstudio.nets.backends import ort_available

    return f"CPU ({torch.get_num_threads()} threads; " + ("onnxruntime" if ort_available() else "torch") + ")"


def about_lines() -> list[tuple[str, str]]:
    from PySide6 import __version__ as pyside_version
    from PySide6.QtCore import qVersion

    return [("segstudio", _version("segstudio")), ("Python", platform.python_version()),
            ("PyTorch", _version("torch")), ("onnxruntime", _version("onnxruntime")),
            ("Qt / PySide6", f"{qVersion()} / {pyside_version}"), ("OpenCV", _version("opencv-python-headless")),
            ("NumPy", _version("numpy")), ("Device", device_text()),
            ("Your models", str(paths.user_models_dir())), ("Shipped models", str(paths.shipped_models_dir())),
            ("Platform", platform.platform())]


class AboutDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About segstudio")
        rows = "".join(f"<tr><td><b>{k}</b>&nbsp;&nbsp;</td><td>{v}</td></tr>" for k, v in about_lines())
        self.label = QLabel("<h3>segstudio</h3><p>Predict, correct and export semantic segmentation masks "
                            f"with FCN-8s and SegNet.</p><table>{rows}</table>", self)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.label)
        layout.addWidget(buttons)


def guide_dirs() -> list[Path]:
    """Where the user guide may be: the source checkout, then the installed data of this and the user scheme."""
    dirs = [paths.REPO_DIR / "docs" / "guide"]
    for scheme in (sysconfig.get_default_scheme(), sysconfig.get_preferred_scheme("user")):
        dirs.append(Path(sysconfig.get_path("data", scheme)) / "share" / "segstudio" / "guide")
    return dirs


def guide_index() -> Path | None:
    """The guide's contents page (its README.md), or None when this copy of segstudio has no guide."""
    return next((d / "README.md" for d in guide_dirs() if (d / "README.md").is_file()), None)


class GuideBrowser(QTextBrowser):
    """Renders the guide's markdown pages; web links go to the desktop's browser, a missing page is said."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setOpenExternalLinks(True)

    def doSetSource(self, name: QUrl, type=QTextDocument.ResourceType.UnknownResource) -> None:  # noqa: A002
        if name.isRelative() and self.source().isLocalFile():
            name = self.source().resolved(name)
        if name.isLocalFile() and not Path(name.toLocalFile()).is_file():
            self.setMarkdown(f"**{name.toLocalFile()}** is not part of this copy of segstudio.\n\n"
                             "Go back to the guide with Back or Contents.")
            return
        super().doSetSource(name, type)
        self._fit_images()

    def _fit_images(self) -> None:
        """Screenshots fit the page's width (shared between a table's columns) instead of needing a sideways scroll."""
        width = max(320, self.viewport().width() - 60)
        cursor = QTextCursor(self.document())
        block = self.document().begin()
        while block.isValid():
            it = block.begin()
            while not it.atEnd():
                fragment = it.fragment()
                if fragment.charFormat().isImageFormat():
                    cursor.setPosition(fragment.position())
                    cursor.setPosition(fragment.position() + fragment.length(), QTextCursor.MoveMode.KeepAnchor)
                    table = cursor.currentTable()
                    image = fragment.charFormat().toImageFormat()
                    image.setWidth(width / (table.columns() if table is not None else 1))
                    cursor.setCharFormat(image)
                it += 1
            block = block.next()


class UserGuideDialog(QDialog):
    """Help → User Guide: the guide's pages with Back, Forward and Contents."""

    def __init__(self, parent: QWidget | None = None, index: Path | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("segstudio User Guide")
        self.resize(820, 700)
        self.browser = GuideBrowser(self)
        row = QHBoxLayout()
        for text, slot, signal in (("Back", self.browser.backward, self.browser.backwardAvailable),
                                   ("Forward", self.browser.forward, self.browser.forwardAvailable),
                                   ("Contents", self.browser.home, None)):
            button = QPushButton(text, self)
            button.clicked.connect(slot)
            if signal is not None:
                button.setEnabled(False)
                signal.connect(button.setEnabled)
            row.addWidget(button)
        row.addStretch(1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.browser)
        layout.addWidget(buttons)
        self.index = index or guide_index()
        if self.index is None:
            self.browser.setMarkdown("The user guide is not installed with this copy of segstudio. It is the "
                                     "`docs/guide` folder of segstudio's source.")
        else:
            self.browser.setSource(QUrl.fromLocalFile(str(self.index)))


def show_dialog(window: QWidget, dialog: QDialog) -> QDialog:
    """Show a modeless help dialog, kept alive by the window until it is closed."""
    previous = getattr(window, "_help_dialog", None)
    if previous is not None:
        previous.close()
    window._help_dialog = dialog
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.show()
    return dialog
