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

from .tools import TolerantRegionTool

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


class SimilarTool(TolerantRegionTool):
    name, text = "similar", "Similar region"
    tolerance_default, tolerance_range = SIMILAR_TOLERANCE, (0.0, 2.0)  # cosine distance

    def source(self):
        return self.ctl.similar_region()

    def _preview(self) -> None:
        sr = self.source()
        self.region = None if sr is None else sr.select(self.level, self.seed[0], self.seed[1], self.tolerance)
        self.show_region()
        self.ctl.say(f"Similar region: tolerance {self.tolerance:.2f}")
