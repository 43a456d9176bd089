"""The review queue: mark the current image reviewed and move on (V); filter the file list by state and
sort it so that the least confident predictions come first.

Two combo boxes sit above the file list: which states to show, and the order
(by name, or by the mean confidence saved beside each mask, least confident
first; the model computes missing confidences in the background, and until
then those images go last).
"""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QWidget

from segstudio.core.states import ImageState


ORDERS = ("by name", "least confident first")


def mean_confidence(masks_dir, stem: str):
    """`core.assist.confidence_store.mean_confidence`, imported on first use (it needs numpy and PIL)."""
    from segstudio.core.assist import confidence_store

    return confidence_store.mean_confidence(masks_dir, stem)


class ReviewQueue(QObject):
    def __init__(self, win):
        super().__init__(win)
        self.win = win
        self.act_reviewed = QAction("Mark &Reviewed and Next", win)
        self.act_reviewed.setShortcut(QKeySequence("V"))
        self.act_reviewed.setToolTip("Save, mark this image reviewed and open the next one (V)")
        self.act_reviewed.triggered.connect(self.mark_reviewed)
        self.state_combo = QComboBox()
        self.state_combo.addItem("all states", None)
        for s in ImageState:
            self.state_combo.addItem(s.value, s.value)
        self.state_combo.setToolTip("Show only images in this state")
        self.state_combo.currentIndexChanged.connect(self.apply_filter)
        self.order_combo = QComboBox()
        self.order_combo.addItems(ORDERS)
        self.order_combo.setToolTip("Order of the file list (A / D follow it)")
        self.order_combo.currentIndexChanged.connect(self.apply)
        row = QWidget()
        lay = QHBoxLayout(row)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.state_combo)
        lay.addWidget(self.order_combo)
        win.file_list.layout().insertWidget(1, row)

    def actions(self) -> list[QAction]:
        return [self.act_reviewed]

    def apply_filter(self) -> None:
        state = self.state_combo.currentData()
        self.win.file_list.set_state_filter(None if state is None else {ImageState(state)})

    def apply(self) -> None:
        """Filter, and sort (reading every saved confidence map when sorting by confidence)."""
        fl, project = self.win.file_list, self.win.project
        self.apply_filter()
        if project is None:
            return
        if self.order_combo.currentIndex() == 1:
            # Images without a saved confidence get one from the model (then the list is sorted again).
            conf = {p: mean_confidence(project.masks_dir, p.stem) for p in project.images}
            self.win.assist.confidence.fill_missing([p for p in project.images if conf[p] is None], self.apply)
            order = sorted(project.images, key=lambda p: (conf[p] is None, conf[p] or 0.0, p.name))
        else:
            order = list(project.images)
        fl.set_order(order)

    def mark_reviewed(self) -> None:
        win = self.win
        doc = win.current
        if doc is None or win.project is None or doc.read_only:
            return
        if not win.save_current():
            return
        if not win.project.has_mask(doc.path):
            win.statusBar().showMessage("Nothing to review: this image has no mask yet", 4000)
            return
        win.project.set_state(doc.path, ImageState.REVIEWED)
        win.file_list.set_state(doc.path, ImageState.REVIEWED)
        win.next_image()
        win.file_list.set_state_filter(win.file_list.state_filter)  # the reviewed image may leave the filter
