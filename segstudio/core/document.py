"""The editing document of one image: its label map, class counts and edit history, without Qt.

Every change to a label map goes through a `Document`: brush and eraser
strokes (`begin_stroke` / `extend_stroke` / `end_stroke`, one undo step per
stroke however many mouse moves it took), polygons, flood fills, predictions,
and `apply_mask(mask, class_index, protect=...)`, the one entry point for tools
that compute a region (assisted correction). Each edit writes the map once and
records a `core.labelmap.Diff` (compressed, bounding box only) in the history,
so undo and redo restore the map bit for bit while holding memory in
proportion to the edited area.

`protect` is the set of label values an edit must leave as they are (the
studio's "Protect other classes" turns into it with `protect_all_but`, or,
in its "start class" mode, with `protect_for_press` at the point
where the edit starts).

The document tells its listeners what changed: `on_change(bbox)` after pixels
changed (bbox None = everything), `on_history()` after the history, the clean
state or the origin changed. A viewer repaints from `on_change` only, so an
edit is painted exactly once. Dropping the pixels (`unload`) keeps the history:
it applies again once the same mask is loaded back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import labelmap as lm
from .project import ImageState

ChangeFn = Callable[[lm.BBox | None], None]
HistoryFn = Callable[[], None]


def protect_all_but(allowed: Iterable[int]) -> frozenset[int]:
    """The `protect` set that lets edits change only pixels holding one of `allowed`."""
    keep = {int(v) for v in allowed}
    return frozenset(v for v in range(256) if v not in keep)


def protect_for_press(labels: np.ndarray, x: float, y: float, ignore: int) -> frozenset[int]:
    """The `protect` set of "paint over unlabelled and start class": an edit that starts at
    (x, y) may change unlabelled pixels and pixels of the class there, nothing else (only unlabelled ones
    when (x, y) is unlabelled or outside the map)."""
    under = lm.pick(labels, x, y)
    return protect_all_but((ignore,) if under is None else (ignore, under))


def _only_over(protect: Iterable[int] | None) -> tuple[int, ...] | None:
    """labelmap's allow-list form of a protect set (None = everything may change)."""
    if protect is None:
        return None
    blocked = {int(v) for v in protect}
    if not blocked:
        return None
    return tuple(v for v in range(256) if v not in blocked)


def _clip(origin: tuple[int, int], crop: np.ndarray, shape: tuple[int, int]):
    """(bbox, crop) of an array placed at `origin`, clipped to a map of `shape`; (None, None) if outside."""
    x0, y0 = int(origin[0]), int(origin[1])
    h, w = shape
    bx0, by0 = max(x0, 0), max(y0, 0)
    bx1, by1 = min(x0 + crop.shape[1], w), min(y0 + crop.shape[0], h)
    if bx0 >= bx1 or by0 >= by1:
        return None, None
    return (bx0, by0, bx1, by1), crop[by0 - y0:by1 - y0, bx0 - x0:bx1 - x0]


@dataclass(frozen=True)
class Step:
    """One undoable edit."""

    diff: lm.Diff
    text: str
    state: ImageState = ImageState.EDITED


class Document:
    """One image's label map and history; see the module docstring."""

    def __init__(self, path: str | Path | None = None, ignore_index: int = 255):
        self.path = Path(path) if path is not None else None
        self.ignore_index = int(ignore_index)
        self.labels: np.ndarray | None = None
        self.counts = np.zeros(256, np.int64)
        self.origin = ImageState.SAVED  # what the current content came from
        self.read_only = False  # the mask on disk could not be loaded: never write it
        self._steps: list[Step] = []
        self._index = 0  # steps[:index] are applied
        self._clean: int | None = 0  # the index at which the map equals the saved file
        self._stroke: lm.Stroke | None = None
        self._change_listeners: list[ChangeFn] = []
        self._history_listeners: list[HistoryFn] = []

    # --- listeners -------------------------------------------------------------------
    def subscribe(self, on_change: ChangeFn | None = None, on_history: HistoryFn | None = None) -> None:
        if on_change is not None:
            self._change_listeners.append(on_change)
        if on_history is not None:
            self._history_listeners.append(on_history)

    def unsubscribe(self, on_change: ChangeFn | None = None, on_history: HistoryFn | None = None) -> None:
        if on_change in self._change_listeners:
            self._change_listeners.remove(on_change)
        if on_history in self._history_listeners:
            self._history_listeners.remove(on_history)

    def unsubscribe_all(self) -> None:
        self._change_listeners.clear()
        self._history_listeners.clear()

    def _changed(self, bbox: lm.BBox | None) -> None:
        for fn in list(self._change_listeners):
            fn(bbox)

    def _history_changed(self) -> None:
        for fn in list(self._history_listeners):
            fn()

    # --- content ---------------------------------------------------------------------
    @property
    def loaded(self) -> bool:
        return self.labels is not None

    def set_labels(self, labels: np.ndarray) -> None:
        """Make `labels` (H x W uint8, C-contiguous, writable) the content; the history is kept."""
        if labels.ndim != 2 or labels.dtype != np.uint8:
            raise ValueError(f"a label map is H x W uint8, got {labels.dtype} {labels.shape}")
        if not labels.flags.writeable or not labels.flags.c_contiguous:
            labels = np.array(labels, order="C")
        self._stroke = None
        self.labels = labels
        self.counts = lm.class_counts(labels)
        self._changed(None)

    def unload(self) -> None:
        """Drop the pixels (a stroke in progress is finished first); the history stays."""
        if self._stroke is not None:
            self.end_stroke()
        self.labels = None

    # --- edits -----------------------------------------------------------------------
    def _require_editable(self) -> np.ndarray:
        if self.labels is None:
            raise RuntimeError("the document has no label map loaded")
        return self.labels

    @property
    def stroking(self) -> bool:
        """True while a stroke is half-painted into the map (saving waits for its end)."""
        return self._stroke is not None

    def begin_stroke(self, value: int, size: float, protect: Iterable[int] | None = None) -> None:
        """Start a brush (or, with the ignore index, eraser) stroke of diameter `size` pixels."""
        if self._stroke is not None:
            self.end_stroke()
        self._stroke = lm.Stroke(self._require_editable(), value, size, _only_over(protect))

    def extend_stroke(self, x: float, y: float) -> lm.BBox | None:
        """Paint the stroke on to image point (x, y); returns the bbox repainted."""
        if self._stroke is None:
            return None
        bbox = self._stroke.add_point(x, y)
        if bbox is not None:
            self._changed(bbox)
        return bbox

    def end_stroke(self) -> lm.Diff | None:
        """Finish the stroke as one history step (None if it changed nothing)."""
        stroke, self._stroke = self._stroke, None
        if stroke is None:
            return None
        text = "Erase" if stroke.value == self.ignore_index else "Brush stroke"
        return self._record(stroke.finish(), text)

    def polygon(self, points: Sequence[tuple[float, float]], value: int,
                protect: Iterable[int] | None = None) -> lm.Diff | None:
        """Fill the polygon through image points `points` with `value`."""
        diff = lm.fill_polygon(self._require_editable(), points, value, _only_over(protect))
        return self._painted(diff, "Polygon")

    def fill(self, x: float, y: float, value: int, protect: Iterable[int] | None = None) -> lm.Diff | None:
        """Flood-fill the 4-connected region of the pixel under (x, y) with `value`."""
        diff = lm.flood_fill(self._require_editable(), int(np.floor(x)), int(np.floor(y)), value,
                             _only_over(protect))
        return self._painted(diff, "Fill")

    def apply_mask(self, mask: np.ndarray, class_index: int, protect: Iterable[int] | None = None,
                   text: str = "Apply region", origin: tuple[int, int] | None = None) -> lm.Diff | None:
        """Set the pixels of boolean H x W `mask` to `class_index`, except those holding a `protect` value.

        With `origin` = (x0, y0), `mask` covers only the part of the map from there (a tool's bounding
        box), so a click on a large image need not build a full-size mask."""
        labels = self._require_editable()
        mask = np.asarray(mask, bool)
        if origin is not None:
            bbox, crop = _clip(origin, mask, labels.shape)
            if bbox is None:
                return None
            return self._painted(lm.apply_region(labels, bbox, crop, int(class_index), _only_over(protect)), text)
        if mask.shape != labels.shape:
            raise ValueError(f"mask is {mask.shape[1]}x{mask.shape[0]}, label map is "
                             f"{labels.shape[1]}x{labels.shape[0]}")
        ys, xs = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
        if ys.size == 0:
            return None
        bbox = (int(xs[0]), int(ys[0]), int(xs[-1]) + 1, int(ys[-1]) + 1)
        crop = mask[bbox[1]:bbox[3], bbox[0]:bbox[2]]
        diff = lm.apply_region(labels, bbox, crop, int(class_index), _only_over(protect))
        return self._painted(diff, text)

    def apply_labels(self, x0: int, y0: int, values: np.ndarray, protect: Iterable[int] | None = None,
                     text: str = "Replace region", state: ImageState = ImageState.EDITED) -> lm.Diff | None:
        """Write uint8 `values` into the map from (x0, y0) (a re-predicted box), except pixels holding a
        `protect` value: one step, whatever classes it holds. `state` PREDICTED records it as machine
        labels (a propagation), as `apply_prediction` does."""
        labels = self._require_editable()
        bbox, crop = _clip((x0, y0), np.asarray(values, np.uint8), labels.shape)
        if bbox is None:
            return None
        bx0, by0, bx1, by1 = bbox
        region = labels[by0:by1, bx0:bx1]
        old = region.copy()
        write = ~np.isin(region, list(protect)) if protect else np.ones(region.shape, bool)
        region[write] = crop[write]
        return self._painted(lm.make_diff(labels, bbox, old), text, state)

    def apply_prediction(self, predicted: np.ndarray, fill_only_unlabelled: bool = False) -> lm.Diff | None:
        """Replace the map by a model's labels (or fill only its unlabelled pixels)."""
        diff = lm.replace_labels(self._require_editable(), predicted, only_unlabelled=fill_only_unlabelled,
                                 ignore_index=self.ignore_index)
        return self._painted(diff, "Prediction", ImageState.PREDICTED)

    def _painted(self, diff: lm.Diff | None, text: str, state: ImageState = ImageState.EDITED) -> lm.Diff | None:
        if diff is not None:
            self._changed(diff.bbox)
        return self._record(diff, text, state)

    def _record(self, diff: lm.Diff | None, text: str, state: ImageState = ImageState.EDITED) -> lm.Diff | None:
        if diff is None:
            return None
        if self._clean is not None and self._clean > self._index:
            self._clean = None  # the saved state was undone past and is now unreachable
        del self._steps[self._index:]
        self._steps.append(Step(diff, text, state))
        self._index += 1
        self.counts += diff.counts_delta()
        self.origin = state
        self._history_changed()
        return diff

    # --- history ---------------------------------------------------------------------
    @property
    def steps(self) -> tuple[Step, ...]:
        """The history, oldest first (`history_index` of them are applied)."""
        return tuple(self._steps)

    @property
    def history_length(self) -> int:
        return len(self._steps)

    @property
    def history_index(self) -> int:
        """How many steps are applied (undo moves it down, redo up)."""
        return self._index

    @property
    def can_undo(self) -> bool:
        return self._index > 0 and self.labels is not None and self._stroke is None

    @property
    def can_redo(self) -> bool:
        return self._index < len(self._steps) and self.labels is not None and self._stroke is None

    def undo_text(self) -> str:
        return self._steps[self._index - 1].text if self._index > 0 else ""

    def redo_text(self) -> str:
        return self._steps[self._index].text if self._index < len(self._steps) else ""

    def undo(self) -> lm.BBox | None:
        """Revert the last applied step; returns its bbox (None if there was nothing to undo)."""
        if not self.can_undo:
            return None
        self._index -= 1
        step = self._steps[self._index]
        step.diff.revert(self.labels)
        self.counts -= step.diff.counts_delta()
        self.origin = ImageState.EDITED
        self._changed(step.diff.bbox)
        self._history_changed()
        return step.diff.bbox

    def redo(self) -> lm.BBox | None:
        """Re-apply the next step; returns its bbox (None if there was nothing to redo)."""
        if not self.can_redo:
            return None
        step = self._steps[self._index]
        self._index += 1
        step.diff.apply(self.labels)
        self.counts += step.diff.counts_delta()
        self.origin = step.state
        self._changed(step.diff.bbox)
        self._history_changed()
        return step.diff.bbox

    @property
    def dirty(self) -> bool:
        """True when the map differs from what was last saved (or loaded)."""
        return self._clean != self._index

    def mark_clean(self) -> None:
        """The map as it is now is what the file holds (after a save)."""
        if self._clean != self._index:
            self._clean = self._index
            self._history_changed()

    def history_bytes(self) -> int:
        """Memory held by the history's diffs."""
        return sum(s.diff.nbytes for s in self._steps)
