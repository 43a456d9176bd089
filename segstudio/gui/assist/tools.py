"""The assisted tools' mouse and key handling; AssistController routes canvas events here.

Coordinates are image pixels. A tool previews on the overlay and commits through
the controller, which makes each commit one undoable Document step:
  SuperpixelTool (S)  click or drag paints whole superpixels; `[` / `]` coarser / finer.
  WandTool (W)        press grows a region of similar colour; dragging sideways changes
                      the tolerance (live preview); release commits (Enter too).
  ModelWandTool (M)   press selects the superpixels around the click whose mean model
                      probability of the current class is >= the tolerance (dragging
                      sideways changes it, live preview); release commits (Enter too);
                      `[` / `]` coarser / finer superpixels.
  BoxTool (C, R)      drag a box: GrabCut (worker thread, preview, Shift-drag / Ctrl-drag
                      foreground / background hints, Enter commits) or re-predict the box
                      with the model, context around it (replaces the box's labels).
Esc drops a preview.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

from segstudio.core.assist.levels import LEVELS

HINT_SIZE = 9
FG_COLOR, BG_COLOR = QColor(0, 220, 0), QColor(230, 0, 0)


class AssistTool:
    name = ""
    text = ""

    def __init__(self, ctl):
        self.ctl = ctl

    def activate(self) -> None:
        pass

    def deactivate(self) -> None:
        self.ctl.overlay.clear_tool()

    def data_ready(self) -> None:
        pass

    def press(self, x: float, y: float, modifiers) -> None:
        pass

    def move(self, x: float, y: float) -> None:
        pass

    def release(self, x: float, y: float) -> None:
        pass

    def key(self, key: int) -> bool:
        if key == Qt.Key.Key_Escape:
            self.deactivate()
            return True
        return False


def step_level(level: str, key) -> str:
    """The superpixel level one coarser ([) or finer (]) than `level`."""
    names = list(LEVELS)
    i = names.index(level) + (-1 if key == Qt.Key.Key_BracketLeft else 1)
    return names[min(max(i, 0), len(names) - 1)]


class LevelKeys:
    """`[` / `]`: coarser / finer superpixels, for the tools that work on them (a mixin before AssistTool)."""

    def key(self, key) -> bool:
        if key in (Qt.Key.Key_BracketLeft, Qt.Key.Key_BracketRight):
            self.level = step_level(self.level, key)
            self.data_ready()
            return True
        return super().key(key)


class SuperpixelTool(LevelKeys, AssistTool):
    name, text = "superpixel", "Superpixel brush"

    def __init__(self, ctl):
        super().__init__(ctl)
        self.level = list(LEVELS)[1]
        self.ids: list[int] = []
        self.last: tuple[float, float] | None = None

    def activate(self) -> None:
        self.data_ready()

    def deactivate(self) -> None:
        self.ids, self.last = [], None
        self.ctl.overlay.set_boundaries(None)
        super().deactivate()

    def data_ready(self) -> None:
        sp = self.ctl.superpixels()
        self.ctl.overlay.set_boundaries(sp.boundaries(self.level) if sp is not None and self.ctl.show_boundaries
                                        else None)
        if sp is not None:
            self.ctl.say(f"Superpixels ready ({self.level}, {sp.count(self.level)} segments; [ / ] coarser / finer)")

    def press(self, x, y, modifiers) -> None:
        sp = self.ctl.superpixels()
        if sp is None:
            self.ctl.say("Superpixels are still being computed for this image…")
            return
        seg = sp.segment_at(self.level, x, y)
        self.ids = [] if seg is None else [seg]
        self.last = (x, y)
        self._preview()

    def move(self, x, y) -> None:
        sp = self.ctl.superpixels()
        if sp is None or self.last is None:
            return
        before = len(self.ids)
        for s in sp.segments_along(self.level, [self.last, (x, y)]):
            if s not in self.ids:
                self.ids.append(s)
        self.last = (x, y)
        if len(self.ids) != before:  # within the same segments the preview stands
            self._preview()

    def _preview(self) -> None:
        res = self.ctl.superpixels().mask(self.level, self.ids) if self.ids else None
        if res is None:
            self.ctl.overlay.set_mask_preview(0, 0, None, (0, 0, 0))
        else:
            (x0, y0, _, _), m = res
            self.ctl.overlay.set_mask_preview(x0, y0, m, self.ctl.class_color())

    def release(self, x, y) -> None:
        sp = self.ctl.superpixels()
        if sp is not None and self.ids:
            res = sp.mask(self.level, self.ids)
            if res is not None:
                self.ctl.commit_mask(res[0], res[1], f"Superpixels ({len(self.ids)})")
        self.ids, self.last = [], None
        self.ctl.overlay.set_mask_preview(0, 0, None, (0, 0, 0))


class RegionTool(AssistTool):
    """A click previews a region grown from it (the wands); release or Enter commits it, Esc drops it."""

    def __init__(self, ctl):
        super().__init__(ctl)
        self.seed: tuple[float, float] | None = None
        self.press_x = 0.0
        self.base = 0.0
        self.region = None

    def commit_text(self) -> str:
        raise NotImplementedError

    def show_region(self) -> None:
        if self.region is None:
            self.ctl.overlay.set_mask_preview(0, 0, None, (0, 0, 0))
        else:
            (x0, y0, _, _), m = self.region
            self.ctl.overlay.set_mask_preview(x0, y0, m, self.ctl.class_color())

    def release(self, x, y) -> None:
        self._commit()

    def _commit(self) -> None:
        if self.region is not None:
            bbox, m = self.region
            self.ctl.commit_mask(bbox, m, self.commit_text())
        self.seed, self.region = None, None
        self.ctl.overlay.clear_tool()

    def key(self, key) -> bool:
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self._commit()
            return True
        if key == Qt.Key.Key_Escape:
            self.seed, self.region = None, None
        return super().key(key)


class WandTool(RegionTool):
    name, text = "wand", "Magic wand"

    def press(self, x, y, modifiers) -> None:
        wand = self.ctl.wand()
        if wand is None:
            self.ctl.say("The magic wand is being prepared for this image…")
            return
        self.seed, self.press_x, self.base = (x, y), self.ctl.widget_x, self.ctl.tolerance()
        self._preview()

    def move(self, x, y) -> None:
        if self.seed is None:
            return
        # Dragging sideways: 1 Lab unit of tolerance per 3 screen pixels.
        before = self.ctl.tolerance()
        self.ctl.set_tolerance(max(0.0, self.base + (self.ctl.widget_x - self.press_x) / 3.0))
        if self.ctl.tolerance() != before:  # an up/down move leaves the region as it is
            self._preview()

    def tolerance_changed(self) -> None:
        if self.region is not None and self.seed is not None:
            self._preview()

    def _preview(self) -> None:
        self.region = self.ctl.wand().select(self.seed[0], self.seed[1], self.ctl.tolerance())
        self.show_region()

    def commit_text(self) -> str:
        return f"Magic wand (tolerance {self.ctl.tolerance():g})"


#: The model wand's tolerance: the least mean probability of the class a superpixel needs.
MODEL_WAND_TOLERANCE = 0.25


class TolerantRegionTool(LevelKeys, RegionTool):
    """A region tool on superpixels with its own tolerance (the model wand, the similar-region click):
    dragging sideways changes the tolerance live, `[` / `]` coarser / finer superpixels.

    Subclasses give `tolerance_default`, `tolerance_range`, `source()` (the per-image data the
    tool selects from, None while it is being prepared) and `_preview()`."""

    tolerance_default, tolerance_range = 0.25, (0.0, 1.0)

    def __init__(self, ctl):
        super().__init__(ctl)
        self.level = list(LEVELS)[1]
        self.tolerance = self.tolerance_default
        self.base = self.tolerance

    def source(self):
        raise NotImplementedError

    def _preview(self) -> None:
        raise NotImplementedError

    def activate(self) -> None:
        self.data_ready()

    def data_ready(self) -> None:
        if self.source() is not None:
            self.ctl.say(f"{self.text} ready ({self.level} superpixels, tolerance {self.tolerance:.2f}; "
                         "drag sideways to change it, [ / ] coarser / finer)")
            if self.seed is not None and self.region is None:
                self._preview()

    def press(self, x, y, modifiers) -> None:
        self.seed, self.press_x, self.base = (x, y), self.ctl.widget_x, self.tolerance
        if self.source() is None:
            return  # source() said why in the status bar; the preview comes with data_ready
        self._preview()

    def move(self, x, y) -> None:
        if self.seed is None:
            return
        # Dragging sideways: 0.01 of tolerance per 3 screen pixels.
        lo, hi = self.tolerance_range
        value = min(hi, max(lo, round(self.base + (self.ctl.widget_x - self.press_x) / 300.0, 2)))
        if value != self.tolerance:
            self.tolerance = value
            if self.source() is not None:
                self._preview()

    def commit_text(self) -> str:
        return f"{self.text} (tolerance {self.tolerance:g})"


class ModelWandTool(TolerantRegionTool):
    name, text = "modelwand", "Model wand"
    tolerance_default, tolerance_range = MODEL_WAND_TOLERANCE, (0.01, 1.0)

    def source(self):
        return self.ctl.model_wand()

    def _preview(self) -> None:
        mw = self.source()
        c = self.ctl.canvas.current_class
        self.region = None if mw is None else mw.select(self.level, c, self.seed[0], self.seed[1], self.tolerance)
        self.show_region()
        if self.region is None:
            p = None if mw is None else mw.probability_at(self.level, c, *self.seed)
            if p is not None:
                self.ctl.say(f"The model gives this class {p:.2f} here, below the tolerance {self.tolerance:.2f}")
        else:
            self.ctl.say(f"Model wand: tolerance {self.tolerance:.2f}")


class BoxTool(AssistTool):
    """Drag a box, compute on a worker thread, preview; GrabCut takes hint strokes before Enter."""

    def __init__(self, ctl, name: str):
        super().__init__(ctl)
        self.name = name
        self.text = "GrabCut box" if name == "grabcut" else "Re-predict region"
        self.start: tuple[float, float] | None = None
        self.box: tuple[int, int, int, int] | None = None
        self.hint: tuple[bool, list] | None = None  # (foreground?, points) while dragging a hint
        self.hints: list[tuple[bool, list]] = []
        self.result = None

    def deactivate(self) -> None:
        self.start, self.box, self.hint, self.hints, self.result = None, None, None, [], None
        super().deactivate()

    def press(self, x, y, modifiers) -> None:
        hint_mods = modifiers & (Qt.KeyboardModifier.ShiftModifier | Qt.KeyboardModifier.ControlModifier)
        if self.name == "grabcut" and self.box is not None and hint_mods:
            self.hint = (bool(modifiers & Qt.KeyboardModifier.ShiftModifier), [(x, y)])
            self.hints.append(self.hint)
            self._show_strokes()
            return
        self.deactivate()
        self.start = (x, y)
        self.ctl.overlay.box = (x, y, x, y)
        self.ctl.overlay.update()

    def move(self, x, y) -> None:
        if self.hint is not None:
            self.hint[1].append((x, y))
            self._show_strokes()
        elif self.start is not None:
            self.ctl.overlay.box = (*self.start, x, y)
            self.ctl.overlay.update()

    def _show_strokes(self) -> None:
        self.ctl.overlay.strokes = [(FG_COLOR if fg else BG_COLOR, pts) for fg, pts in self.hints]
        self.ctl.overlay.update()

    def release(self, x, y) -> None:
        if self.hint is not None:
            self.hint = None
            self._run()
            return
        if self.start is None:
            return
        w, h = self.ctl.canvas.image_size()
        (ax, ay), self.start = self.start, None
        x0, x1 = sorted((min(max(int(ax), 0), w), min(max(int(x + 1), 0), w)))
        y0, y1 = sorted((min(max(int(ay), 0), h), min(max(int(y + 1), 0), h)))
        if x1 - x0 < 3 or y1 - y0 < 3:
            self.deactivate()
            return
        self.box = (x0, y0, x1, y1)
        self.ctl.overlay.box = self.box
        self._run()

    def _run(self) -> None:
        from segstudio.core.labelmap import stroke_mask

        if self.name == "grabcut":
            shape = self.ctl.canvas.labels.shape
            fg = [stroke_mask(shape, pts, HINT_SIZE) for f, pts in self.hints if f]
            bg = [stroke_mask(shape, pts, HINT_SIZE) for f, pts in self.hints if not f]
            self.ctl.run_grabcut(self.box, _union(fg), _union(bg), self._got)
        else:
            self.ctl.run_repredict(self.box, self._got_labels)

    def _centre(self) -> tuple[float, float]:
        """Where a box "starts" for "the class under the press" protection: its centre (the press is
        usually outside the object)."""
        x0, y0, x1, y1 = self.box
        return (x0 + x1) / 2, (y0 + y1) / 2

    def _got(self, result) -> None:
        self.result = result
        if result is not None:
            (x0, y0, _, _), m = result
            self.ctl.overlay.set_mask_preview(x0, y0, m, self.ctl.class_color())
            self.ctl.say("GrabCut ready: Enter commits, Shift-drag / Ctrl-drag mark foreground / background")

    def _got_labels(self, labels) -> None:
        if self.box is not None and labels is not None:
            self.ctl.commit_labels(self.box[0], self.box[1], labels, "Re-predict region", at=self._centre())
        self.deactivate()

    def key(self, key) -> bool:
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.result is not None:
            bbox, m = self.result
            self.ctl.commit_mask(bbox, m, "GrabCut", at=self._centre())
            self.deactivate()
            return True
        return super().key(key)


def _union(masks):
    if not masks:
        return None
    out = masks[0]
    for m in masks[1:]:
        out = out | m
    return out
