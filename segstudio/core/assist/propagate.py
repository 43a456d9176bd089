"""Mask propagation between video frames: warp the previous frame's labels by dense optical flow.

`propagate_labels(prev_labels, prev_image, image, ignore)` computes DIS optical
flow (Kroeger et al., "Fast Optical Flow using Dense Inverse Search", ECCV
2016; OpenCV's `DISOpticalFlow`) both ways between the two frames at a working
resolution (long side `max_side`, 960 by default), and pulls each pixel's label
from where the backward flow says it came from in the previous frame (nearest
neighbour: labels are never blended). A pixel passes the forward-backward
consistency check of Sundaram, Brox and Keutzer ("Dense point trajectories by
GPU-accelerated large displacement optical flow", ECCV 2010) when the forward
flow at its source brings it back: |b + f(x + b)|^2 <= 0.01 (|b|^2 + |f|^2) + 0.5
(in working pixels). Pixels that fail it (occluded, newly visible, or badly
matched) and pixels whose source lies outside the previous frame get the ignore
index.

`fuse(propagated, probs)` combines the warp with a model's K x h x w softmax
probabilities (at any resolution, as the predictor's working scale gives
them). Where the check passed, the warped label stays (`ratio_consistent`,
infinite by default: measured best). Where it failed, the warped label is kept
unless the model prefers another class by more than `ratio` (p(best) > ratio *
p(warped)), that is, where the model is unsure; a pixel with no warped label
takes the model's class. On CamVid val (benchmarks/bench_propagate.py, 86 pairs
1 s apart) the check passes on 37 % of the pixels only, yet the warped label
is right on most of the rest (flow is wrong on textureless road and sky, where
the label does not change): ratio 8 scored 90.3 % pixel accuracy against 88.7 %
with the warp on every failed pixel and 87.4 % with the model on every failed
pixel (model alone 84.2 %); at 1/15 s apart 97.2 % (model 84.5 %).
Without a model, `fuse` returns the warp where the check passed and the ignore
index elsewhere.

`edited_pixels(labels, ignore, human_base, steps)` says which pixels of a
document hold a person's edits (from its history), so propagation can leave
them alone. No Qt, no torch.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import cv2
import numpy as np

from segstudio.core.errors import ImageSizeMismatch
from segstudio.core.jobs import CancelFn, check_cancel

#: Long side of the frames the flow is computed on (larger frames are shrunk to it).
MAX_SIDE = 960
#: Forward-backward check (Sundaram et al. 2010): squared error <= ALPHA * (|b|^2 + |f|^2) + BETA.
ALPHA, BETA = 0.01, 0.5
#: fuse(): where the check failed, the model overrides the warped label when p(best) > RATIO * p(warped).
RATIO = 8.0
PRESETS = {"ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST, "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
           "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM}


@dataclass
class Propagated:
    """The previous frame's labels warped to this frame."""

    warped: np.ndarray      # H x W uint8: the label each pixel's source had (ignore: outside the frame)
    consistent: np.ndarray  # H x W bool: the flow passed the check and the source pixel was labelled
    seconds_flow: float = 0.0
    ignore_index: int = 255
    gray: np.ndarray | None = None  # this frame's working grayscale: the next pair's `prev_gray`

    @property
    def labels(self) -> np.ndarray:
        """The warp where the check passed, the ignore index elsewhere (the start without a model)."""
        return np.where(self.consistent, self.warped, np.uint8(self.ignore_index)).astype(np.uint8)


def _gray(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return image
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY)
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)


def working_gray(image: np.ndarray, max_side: int = MAX_SIDE) -> tuple[np.ndarray, float]:
    """(grayscale frame shrunk so its long side is at most `max_side`, the factor it was shrunk by)."""
    g = _gray(np.asarray(image))
    h, w = g.shape
    f = min(1.0, max_side / max(h, w))
    if f < 1.0:
        g = cv2.resize(g, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(g), f


def dense_flow(prev_gray: np.ndarray, gray: np.ndarray, preset: str = "medium") -> tuple[np.ndarray, np.ndarray]:
    """(backward, forward) DIS flow, each h x w x 2 float32: backward maps a pixel of `gray` to where it
    was in `prev_gray`, forward a pixel of `prev_gray` to where it goes in `gray`."""
    dis = cv2.DISOpticalFlow_create(PRESETS[preset])
    backward = dis.calc(gray, prev_gray, None)
    forward = dis.calc(prev_gray, gray, None)
    return backward, forward


def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    return np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))


def consistency(backward: np.ndarray, forward: np.ndarray, alpha: float = ALPHA, beta: float = BETA) -> np.ndarray:
    """h x w bool: the backward flow's source lies inside the frame and the forward flow there brings
    the pixel back (Sundaram et al. 2010)."""
    h, w = backward.shape[:2]
    gx, gy = _grid(h, w)
    sx, sy = gx + backward[..., 0], gy + backward[..., 1]
    inside = (sx >= -0.5) & (sx <= w - 0.5) & (sy >= -0.5) & (sy <= h - 0.5)
    f_at = cv2.remap(forward, sx, sy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    err = ((backward + f_at) ** 2).sum(axis=2)
    bound = alpha * ((backward ** 2).sum(axis=2) + (f_at ** 2).sum(axis=2)) + beta
    return inside & (err <= bound)


def warp_labels(prev_labels: np.ndarray, backward: np.ndarray, factor: float, ignore: int) -> np.ndarray:
    """The previous labels pulled along the backward flow (computed at `factor` of the full size) to full
    size, nearest neighbour; pixels whose source is outside the frame get `ignore`."""
    h, w = prev_labels.shape
    flow = backward
    if flow.shape[:2] != (h, w):
        flow = cv2.resize(flow, (w, h), interpolation=cv2.INTER_LINEAR) * np.float32(1.0 / factor)
    gx, gy = _grid(h, w)
    return cv2.remap(prev_labels, gx + flow[..., 0], gy + flow[..., 1], cv2.INTER_NEAREST,
                     borderMode=cv2.BORDER_CONSTANT, borderValue=int(ignore))


def propagate_labels(prev_labels: np.ndarray, prev_image: np.ndarray, image: np.ndarray, ignore: int,
                     max_side: int = MAX_SIDE, preset: str = "medium", check: bool = True,
                     cancelled: CancelFn | None = None, prev_gray: np.ndarray | None = None) -> Propagated:
    """Warp `prev_labels` (the labels of `prev_image`) to `image` (RGB, BGRA or gray, same size); see the
    module docstring. `prev_gray`: `prev_image`'s working grayscale when the caller has it (the `gray`
    of the previous pair's result, going forward through a sequence)."""
    import time

    if prev_labels.shape != np.asarray(image).shape[:2] or np.asarray(prev_image).shape[:2] != prev_labels.shape:
        raise ImageSizeMismatch(f"frames and labels differ in size: {np.asarray(prev_image).shape[1::-1]}, "
                                f"{np.asarray(image).shape[1::-1]}, labels {prev_labels.shape[::-1]}")
    t = time.perf_counter()
    g, factor = working_gray(image, max_side)
    pg = prev_gray if prev_gray is not None and prev_gray.shape == g.shape else working_gray(prev_image, max_side)[0]
    check_cancel(cancelled)
    backward, forward = dense_flow(pg, g, preset)
    seconds = time.perf_counter() - t
    check_cancel(cancelled)
    warped = warp_labels(prev_labels, backward, factor, ignore)
    ok = warped != ignore
    if check:
        good = consistency(backward, forward)
        if good.shape != warped.shape:
            good = cv2.resize(good.view(np.uint8), warped.shape[::-1], interpolation=cv2.INTER_NEAREST).view(bool)
        ok &= good
    return Propagated(warped, ok, seconds, int(ignore), g)


def fuse(prop: Propagated, probs: np.ndarray | None = None, ratio: float = RATIO,
         ratio_consistent: float = math.inf) -> tuple[np.ndarray, np.ndarray]:
    """(labels, from_warp): the warp fused with the model's K x h x w probabilities (see the module
    docstring); `from_warp` marks the pixels that took the warped label. Without `probs`: the warp where
    the check passed, the ignore index elsewhere."""
    if probs is None:
        return prop.labels, prop.consistent.copy()
    h, w = prop.warped.shape
    warped = prop.warped
    best = np.full((h, w), -1.0, np.float32)
    model = np.zeros((h, w), np.uint8)
    p_warp = np.zeros((h, w), np.float32)
    for c in range(probs.shape[0]):
        plane = np.ascontiguousarray(probs[c], dtype=np.float32)
        if plane.shape != (h, w):
            plane = cv2.resize(plane, (w, h), interpolation=cv2.INTER_LINEAR)
        better = plane > best
        model[better] = c
        np.maximum(best, plane, out=best)
        here = warped == c
        p_warp[here] = plane[here]
    keep = warped != prop.ignore_index
    for mask, r in ((prop.consistent, ratio_consistent), (~prop.consistent, ratio)):
        if not math.isinf(r):
            keep &= ~mask | (best <= np.float32(r) * p_warp)
    return np.where(keep, warped, model).astype(np.uint8), keep


def changed_mask(diff) -> np.ndarray:
    """Bool mask, over `diff.bbox`, of the pixels a core.labelmap.Diff changed."""
    x0, y0, x1, y1 = diff.bbox
    index, old, new = diff.arrays()
    if index is None:
        return old != new
    m = np.zeros((y1 - y0) * (x1 - x0), bool)
    m[index] = True
    return m.reshape(y1 - y0, x1 - x0)


def edited_pixels(labels: np.ndarray, ignore: int, human_base: bool, steps: Iterable) -> np.ndarray:
    """H x W bool: the pixels a person labelled. `human_base`: the mask the history starts from was
    written by a person (saved or reviewed), so its labelled pixels count; `steps` (core.document.Step,
    the applied ones, oldest first) then mark what each step changed as a person's (an edit) or not (a
    prediction or a propagation, state PREDICTED)."""
    from segstudio.core.states import ImageState

    edited = (labels != ignore) if human_base else np.zeros(labels.shape, bool)
    for step in steps:
        x0, y0, x1, y1 = step.diff.bbox
        edited[y0:y1, x0:x1][changed_mask(step.diff)] = step.state is not ImageState.PREDICTED
    return edited
