"""The main window's status bar: cursor position and class, zoom, scores against ground truth, job progress."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QLabel, QProgressBar, QPushButton, QStatusBar

if TYPE_CHECKING:
    from segstudio.core.labels import LabelSet


class StatusBar:
    """The permanent widgets of `bar`; `cancel_button` stops the running prediction."""

    def __init__(self, bar: QStatusBar):
        self.bar = bar
        self.pos_label, self.class_label, self.zoom_label, self.metrics_label = (QLabel() for _ in range(4))
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(180)
        self.progress.setVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setVisible(False)
        for w in (self.metrics_label, self.pos_label, self.class_label, self.zoom_label, self.progress,
                  self.cancel_button):
            bar.addPermanentWidget(w)

    def show_cursor(self, info, labelset: LabelSet | None, showing_gt: bool) -> None:
        """`info`: (x, y, value under the cursor) in image pixels, or None when outside."""
        if info is None or labelset is None:
            self.pos_label.setText("")
            self.class_label.setText("")
            return
        x, y, v = info
        ls = labelset
        self.pos_label.setText(f"x {x}  y {y}")
        name = "unlabelled" if v == ls.ignore_index else ls.names[v] if v < ls.num_classes else f"invalid value {v}"
        self.class_label.setText(("GT: " if showing_gt else "") + name)

    def show_zoom(self, scale: float) -> None:
        self.zoom_label.setText(f"{scale * 100:.0f}%")

    def set_busy(self, busy: bool) -> None:
        if busy:
            self.progress.setRange(0, 0)
        self.progress.setVisible(busy)
        self.cancel_button.setVisible(busy)

    def show_progress(self, done: int, total: int, what: str) -> None:
        if total > 0:
            self.progress.setRange(0, total)
            self.progress.setValue(done)
        self.bar.showMessage(what, 3000)
