"""The similar-region click (K): a region tool on the pretrained features, sibling of the model wand.

Press: the clicked superpixel and the connected superpixels whose pretrained
features (core/assist/similar_region.py) are within the tolerance (a cosine
distance) of it, previewed in the current class; dragging sideways widens
(right) or narrows (left) it, live; release or Enter commits it as one undo
step through the controller (which honours Protect); `[` / `]` coarser / finer
superpixels; Esc drops it. It needs an fcn8s-lite0 model: with another one
selected the action is disabled and its tool tip says why.
"""

from __future__ import annotations

from PySide6.QtCore import Qt

from segstudio.core.assist.levels import LEVELS

from .tools import RegionTool, step_level

#: The default tolerance: the largest cosine distance to the clicked superpixel's features.
SIMILAR_TOLERANCE = 0.3
TIP = ("Click: the connected superpixels whose pretrained features look like the clicked one's; drag sideways "
       "for tolerance, release commits")


def feature_problem(model_path) -> str | None:
    """Why the model at `model_path` gives no pretrained features (None if it does)."""
    if model_path is None:
        return "choose an fcn8s-lite0 model (Model menu)"
    from segstudio.nets.checkpoint import read_card
    from segstudio.nets.errors import ModelError
    from segstudio.nets.learning_loop import feature_problem as card_problem

    try:
        return card_problem(read_card(model_path))
    except ModelError as e:
        return str(e)


class SimilarTool(RegionTool):
    name, text = "similar", "Similar region"

    def __init__(self, ctl):
        super().__init__(ctl)
        self.level = list(LEVELS)[1]
        self.tolerance = SIMILAR_TOLERANCE
        self.base = self.tolerance

    def activate(self) -> None:
        self.data_ready()

    def data_ready(self) -> None:
        if self.ctl.similar_region() is not None:
            self.ctl.say(f"Similar region ready ({self.level} superpixels, tolerance {self.tolerance:.2f}; "
                         "drag sideways to change it, [ / ] coarser / finer)")
            if self.seed is not None and self.region is None:
                self._preview()

    def press(self, x, y, modifiers) -> None:
        self.seed, self.press_x, self.base = (x, y), self.ctl.widget_x, self.tolerance
        if self.ctl.similar_region() is None:
            return  # similar_region() said why; the preview comes with data_ready
        self._preview()

    def move(self, x, y) -> None:
        if self.seed is None:
            return
        # Dragging sideways: 0.01 of cosine distance per 3 screen pixels.
        value = min(2.0, max(0.0, round(self.base + (self.ctl.widget_x - self.press_x) / 300.0, 2)))
        if value != self.tolerance:
            self.tolerance = value
            if self.ctl.similar_region() is not None:
                self._preview()

    def _preview(self) -> None:
        sr = self.ctl.similar_region()
        self.region = None if sr is None else sr.select(self.level, self.seed[0], self.seed[1], self.tolerance)
        self.show_region()
        self.ctl.say(f"Similar region: tolerance {self.tolerance:.2f}")

    def commit_text(self) -> str:
        return f"Similar region (tolerance {self.tolerance:g})"

    def key(self, key) -> bool:
        if key in (Qt.Key.Key_BracketLeft, Qt.Key.Key_BracketRight):
            self.level = step_level(self.level, key)
            self.data_ready()
            return True
        return super().key(key)
