"""The class panel: the label set with colours and pixel counts; selects the current class."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

if TYPE_CHECKING:
    import numpy as np

    from segstudio.core.labels import LabelSet


def swatch(rgb, size: int = 14) -> QIcon:
    pm = QPixmap(size, size)
    pm.fill(QColor(*rgb))
    return QIcon(pm)


class ClassPanel(QTableWidget):
    classSelected = Signal(int)

    def __init__(self, parent=None):
        super().__init__(0, 3, parent)
        self.setHorizontalHeaderLabels(["#", "Class", "Pixels"])
        self.verticalHeader().setVisible(False)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        hh = self.horizontalHeader()
        hh.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        hh.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        hh.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.labelset: LabelSet | None = None
        self.itemSelectionChanged.connect(self._selection_changed)

    def set_labelset(self, labelset: LabelSet) -> None:
        self.labelset = labelset
        self.blockSignals(True)
        self.setRowCount(labelset.num_classes + 1)
        rows = list(enumerate(zip(labelset.names, labelset.colors)))
        rows.append((labelset.ignore_index, ("(unlabelled)", labelset.ignore_color)))
        for r, (i, (name, color)) in enumerate(rows):
            key = f"Ctrl+{i + 1}" if i < 9 else ""
            idx = QTableWidgetItem(str(i))
            idx.setToolTip(key)
            it = QTableWidgetItem(swatch(color), name)
            it.setToolTip(f"class {i}" + (f" ({key})" if key else ""))
            cnt = QTableWidgetItem("")
            cnt.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.setItem(r, 0, idx)
            self.setItem(r, 1, it)
            self.setItem(r, 2, cnt)
        self.blockSignals(False)

    def set_counts(self, counts: np.ndarray | None) -> None:
        if self.labelset is None:
            return
        ls = self.labelset
        values = list(range(ls.num_classes)) + [ls.ignore_index]
        for r, v in enumerate(values):
            text = "" if counts is None else f"{int(counts[v]):,}"
            item = self.item(r, 2)
            if item is not None and item.text() != text:
                item.setText(text)

    def select_class(self, index: int) -> None:
        if self.labelset is not None and 0 <= index < self.labelset.num_classes:
            self.blockSignals(True)
            self.selectRow(index)
            self.blockSignals(False)

    def _selection_changed(self) -> None:
        rows = {i.row() for i in self.selectedItems()}
        if len(rows) == 1 and self.labelset is not None:
            r = rows.pop()
            # the last row is "unlabelled": selecting it means the eraser
            self.classSelected.emit(r if r < self.labelset.num_classes else self.labelset.ignore_index)
