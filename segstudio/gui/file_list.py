"""The file list dock: every image of the project with its state, filterable by name."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QLabel, QLineEdit, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from segstudio.core.states import ImageState

STATE_STYLE = {
    ImageState.UNLABELLED: ("○", QColor(150, 150, 150)),
    ImageState.PREDICTED: ("◐", QColor(80, 140, 230)),
    ImageState.EDITED: ("✎", QColor(230, 140, 30)),
    ImageState.SAVED: ("●", QColor(60, 170, 80)),
    ImageState.REVIEWED: ("✔", QColor(20, 130, 60)),
}
BAD = ("✖", QColor(210, 50, 50))


def state_style(state: ImageState | None) -> tuple[str, QColor]:
    """The symbol and colour of `state` in the list (None: the image cannot be read)."""
    return BAD if state is None else STATE_STYLE[state]


class FileList(QWidget):
    imageActivated = Signal(object)  # Path

    def __init__(self, parent=None):
        super().__init__(parent)
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter by name")
        self.filter.setClearButtonEnabled(True)
        self.list = QListWidget()
        self.list.setUniformItemSizes(True)
        self.summary = QLabel()
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(self.filter)
        lay.addWidget(self.list)
        lay.addWidget(self.summary)
        self._items: dict[Path, QListWidgetItem] = {}
        self._states: dict[Path, ImageState | None] = {}
        self.state_filter: set[ImageState] | None = None  # shown states (None: all), set by the review queue
        self.filter.textChanged.connect(self._apply_filter)
        self.list.currentItemChanged.connect(self._current_changed)
        self._silent = False

    def set_images(self, images: list[Path], states: dict[Path, ImageState]) -> None:
        self._silent = True
        self.list.clear()
        self._items.clear()
        self._states.clear()
        for p in images:
            item = QListWidgetItem(p.name)
            item.setData(Qt.ItemDataRole.UserRole, str(p))
            item.setToolTip(str(p))
            self.list.addItem(item)
            self._items[p] = item
            self.set_state(p, states.get(p, ImageState.UNLABELLED))
        self._silent = False
        self._apply_filter(self.filter.text())

    def set_state(self, path: Path, state: ImageState | None, error: str | None = None) -> None:
        item = self._items.get(path)
        if item is None:
            return
        self._states[path] = state
        sym, color = state_style(state)
        item.setText(f"{sym}  {path.name}")
        item.setForeground(QBrush(color))
        item.setToolTip(error or f"{path}\n{state.value if state else 'cannot be read'}")
        self._update_summary()

    def state(self, path: Path) -> ImageState | None:
        return self._states.get(path)

    def _update_summary(self) -> None:
        counts = {s: 0 for s in ImageState}
        bad = 0
        for s in self._states.values():
            if s is None:
                bad += 1
            else:
                counts[s] += 1
        parts = [f"{counts[s]} {s.value}" for s in ImageState if counts[s]]
        if bad:
            parts.append(f"{bad} unreadable")
        self.summary.setText(f"{len(self._states)} images: " + ", ".join(parts))

    def select(self, path: Path) -> None:
        item = self._items.get(path)
        if item is not None and self.list.currentItem() is not item:
            self._silent = True
            self.list.setCurrentItem(item)
            self._silent = False
            self.list.scrollToItem(item)

    def visible_paths(self) -> list[Path]:
        return [Path(self.list.item(i).data(Qt.ItemDataRole.UserRole)) for i in range(self.list.count())
                if not self.list.item(i).isHidden()]

    def _apply_filter(self, text: str | None = None) -> None:
        t = (self.filter.text() if text is None else text).strip().lower()
        for p, item in self._items.items():
            hide_state = self.state_filter is not None and self._states.get(p) not in self.state_filter
            item.setHidden((bool(t) and t not in p.name.lower()) or hide_state)

    def set_state_filter(self, states: set[ImageState] | None) -> None:
        self.state_filter = states
        self._apply_filter()

    def set_order(self, paths: list[Path]) -> None:
        """Show the images in this order (A / D follow the list)."""
        self._silent = True
        current = self.list.currentItem()
        for i, p in enumerate(paths):
            item = self._items.get(p)
            if item is not None:
                self.list.takeItem(self.list.row(item))
                self.list.insertItem(i, item)
        if current is not None:
            self.list.setCurrentItem(current)
        self._silent = False
        self._apply_filter()  # a re-inserted item shows again

    def _current_changed(self, cur, _prev) -> None:
        if cur is not None and not self._silent:
            self.imageActivated.emit(Path(cur.data(Qt.ItemDataRole.UserRole)))
