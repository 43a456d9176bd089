"""Benchmark: annotation effort with and without segstudio's assisted tools, by a simulated annotator.

    .venv/bin/python benchmarks/bench_effort.py --images DIR --gt DIR --labels L [--model NAME] [--limit N]

A simulated annotator that sees the ground truth corrects each image until the
pixel accuracy (over pixels whose ground truth is not the ignore index) reaches
--target (95 %) or --cap actions. Costs (printed at the top): a click 1, a
polygon vertex 1, a brush stroke 1 plus 1 per 100 px of path, a box 2, a key 0
(choosing a class, Enter). Two annotators on the same images:
  baseline = brush, eraser and polygon only (labelme / CVAT without AI servers);
  toolset  = those plus everything segstudio offers: flood fill (F), superpixel
             brush (S, coarse and fine), magic wand (W), GrabCut box, and, when
             starting from the model's prediction, the model wand (M) and
             re-predict a region.
Two starts: the default model's prediction, and an empty (all-unlabelled)
mask. From an empty mask no model tool is used (the case of a label set no
model knows; otherwise pressing "predict" would turn it into the first start).

Policy (the same for both annotators; no tool is preferred by construction):
each step, the annotator looks at the wrong pixels, split into connected
components per ground-truth class, and takes the --components largest. For
each, every tool its kit has proposes the actions a careful human would make
to fix it, all painting that component's true class c:
  polygon   the outline of the wrong component, or of the whole true object
            (the connected ground-truth region of c around it), simplified by
            cv2.approxPolyDP at 1.5, 3 and 6 px; cost = its vertices; filled by
            segstudio's own polygon rasteriser.
  brush     round brushes 3, 7, 13, 25 and 49 px across, moved with a perfect
            hand: every disc that stays --hand-px (1) inside the true object and
            touches the wrong component (so it never paints a wrong pixel; a
            hand aims only that precisely, polygon vertices and clicks are taken
            as exact; "inside" = the Euclidean distance to the object's edge
            exceeds the disc's radius + hand px); cost = 1 per
            separate stroke + path / 100. The path: along a strip of centres at
            most 4 px wide, its length; otherwise around the outline of the
            centres (so that the disc's edge follows the object's edge) plus a
            zig-zag, one brush width apart, over what that leaves inside.
  eraser    paints "unlabelled", which never raises accuracy: never chosen.
  fill      a click at the component's innermost pixel: segstudio's flood fill
            of the connected same-label region there.
  superpixel a click on the best superpixel, or one stroke through all
            superpixels touching the component that gain from being c
            (path = one superpixel spacing per superpixel), at each level; and,
            over the whole image, one sweep through each connected group of
            superpixels that gain most from the same class (the stroke along an
            edge band that fixes several wrong patches at once).
  wand      a click at the component's innermost pixel with tolerance 4, 8,
            16 or 32 (changing the tolerance from the last one costs a click).
  protect   superpixel, wand and GrabCut actions also in the studio's "paint
            over unlabelled and X" mode (X: the label the component wrongly
            has), and the polygons and brush strokes above in that mode too
            (the brush's disc may then also cross pixels labelled neither X nor
            unlabelled: the studio leaves them as they are, so a careful hand
            need not keep out of them); switching that mode costs 2 clicks.
            The baseline has no protect mode (labelme and CVAT have none).
  model wand a click at the component's innermost pixel at each superpixel level
            with tolerance 0.1, 0.25 or 0.5 (a probability; changing it from the
            last one costs a click): segstudio's ModelWand selects the clicked
            superpixel and the connected superpixels whose mean probability of
            c (the model's softmax at its working scale) is >= the tolerance.
  grabcut   a box around the true object (2 px margin); segstudio's grabcut_box.
  re-predict a box around the component (16 px margin): the model's labels
            for the box (segstudio's predict_box: the crop with 64 px of context
            at the model's working scale) replace the box (possibly several
            classes).
Every action is scored by its exact effect on the current mask: pixels that
become right minus pixels that were right and become wrong. The annotator
applies the action with the highest score per unit of cost (ties: the cheaper)
and repeats. Actions with no positive score are never taken.

Prints per image and means; the last line is one JSON object with images,
target_pixel_accuracy, baseline_cost_mean, toolset_cost_mean, effort_ratio
(baseline / toolset, from the prediction), empty_baseline_cost_mean,
empty_toolset_cost_mean, empty_effort_ratio, toolset_reached, baseline_reached
and the share of toolset cost per tool.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from segstudio.core import labelmap as lm  # noqa: E402
from segstudio.core.assist.grabcut import grabcut_box  # noqa: E402
from segstudio.core.assist.model_wand import ModelWand  # noqa: E402
from segstudio.core.assist.superpixels import LEVELS, compute_superpixels  # noqa: E402
from segstudio.core.assist.wand import Wand  # noqa: E402
from segstudio.core.imageio import label_pngs, list_images, load_image, read_label_png  # noqa: E402
from segstudio.core.labels import resolve_labelset  # noqa: E402

COSTS = {"click": 1, "polygon vertex": 1, "brush stroke": 1, "brush path per 100 px": 1, "box": 2, "key": 0}
POLY_EPS = (1.5, 3.0, 6.0)
BRUSH_SIZES = (3, 7, 13, 25, 49)
#: How precisely a hand places a brush (px): the brush is kept this far inside the object (--hand-px).
HAND_PX = 1
WAND_TOLERANCES = (4.0, 8.0, 16.0, 32.0)
MODEL_WAND_TOLERANCES = (0.1, 0.25, 0.5)
BASELINE = ("polygon", "brush")
TOOLSET = ("polygon", "brush", "fill", "superpixel", "wand", "grabcut", "protect", "modelwand", "repredict")
#: Tools that need a model: not used from an empty mask.
MODEL_TOOLS = ("modelwand", "repredict")
EMPTY_TOOLSET = tuple(t for t in TOOLSET if t not in MODEL_TOOLS)
#: Choosing another "protect" mode in the studio's drop-down: open it, pick (two clicks).
PROTECT_SWITCH = 2


@dataclass
class Action:
    tool: str
    cost: float
    x0: int
    y0: int
    mask: np.ndarray  # bool, the pixels painted, at (x0, y0)
    value: int | np.ndarray  # a class, or per-pixel labels (re-predict)
    protect: int | None = None  # "paint over unlabelled and <class>" mode it needs (None: no protection)


@dataclass
class Component:
    cls: int
    area: int
    x0: int
    y0: int
    mask: np.ndarray  # bool crop
    point: tuple[int, int]  # innermost pixel (x, y), where a human clicks


class Scene:
    """What the annotator knows about one image: pixels, truth, and the tools' precomputed state."""

    def __init__(self, image, gt, ignore, predictor=None, probs=None):
        self.image, self.gt, self.ignore = image, gt, ignore
        self.valid = gt != ignore
        self.n_valid = int(self.valid.sum())
        self.h, self.w = gt.shape
        self.predictor = predictor
        self.probs = probs  # K x h x w softmax at the model's working scale (model wand), or None
        self._model_wand = None
        self._objects: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._sp = None
        self._sp_obj = None
        self._boxes: dict[str, np.ndarray] = {}
        self._wand = None
        self._cache: dict = {}

    def objects(self, c: int):
        """Connected ground-truth regions of class c: (labels, stats)."""
        if c not in self._objects:
            _, lab, stats, _ = cv2.connectedComponentsWithStats((self.gt == c).view(np.uint8), connectivity=8)
            self._objects[c] = (lab, stats)
        return self._objects[c]

    def superpixels(self):
        if self._sp is None:
            sp = self._superpixels_object()
            self._sp = {}
            for level in LEVELS:
                lab = sp.full_labels(level)
                n = int(lab.max()) + 1
                counts = np.zeros((n, 256), np.int64)
                np.add.at(counts, (lab[self.valid], self.gt[self.valid]), 1)
                self._sp[level] = (lab, counts, math.sqrt(self.h * self.w / n))
                self._boxes[level] = segment_boxes(lab, n)
        return self._sp

    def segments_mask(self, level: str, ids: np.ndarray):
        """(x0, y0, bool mask over the segments' joint bounding box) of these segments."""
        lab = self._sp[level][0]
        b = self._boxes[level][ids]
        x0, y0, x1, y1 = int(b[:, 0].min()), int(b[:, 1].min()), int(b[:, 2].max()), int(b[:, 3].max())
        crop = lab[y0:y1, x0:x1]
        return x0, y0, (crop == ids[0]) if ids.size == 1 else np.isin(crop, ids)

    def wand(self) -> Wand:
        if self._wand is None:
            self._wand = Wand(self.image)
        return self._wand

    def model_wand(self) -> ModelWand | None:
        if self._model_wand is None and self.probs is not None:
            self._model_wand = ModelWand(self.probs, self._superpixels_object())
        return self._model_wand

    def _superpixels_object(self):
        if self._sp_obj is None:
            self._sp_obj = compute_superpixels(self.image)
        return self._sp_obj

    def cached(self, key, fn):
        if key not in self._cache:
            self._cache[key] = fn()
        return self._cache[key]


def segment_boxes(lab: np.ndarray, n: int) -> np.ndarray:
    """(n, 4) end-exclusive boxes x0, y0, x1, y1 of each segment of a label map."""
    h, w = lab.shape
    ys, xs = np.divmod(np.arange(h * w), w)
    flat = lab.ravel()
    out = np.empty((n, 4), np.int64)
    out[:, 0] = np.full(n, w, np.int64)
    np.minimum.at(out[:, 0], flat, xs)
    out[:, 1] = h
    np.minimum.at(out[:, 1], flat, ys)
    out[:, 2] = 0
    np.maximum.at(out[:, 2], flat, xs + 1)
    out[:, 3] = 0
    np.maximum.at(out[:, 3], flat, ys + 1)
    return out


def gain(scene: Scene, state: np.ndarray, a: Action) -> int:
    """Pixels that become right minus pixels that were right and become wrong."""
    h, w = a.mask.shape
    sl = (slice(a.y0, a.y0 + h), slice(a.x0, a.x0 + w))
    g, s, v = scene.gt[sl], state[sl], scene.valid[sl]
    m = a.mask & v
    return int(np.count_nonzero(m & (g == a.value))) - int(np.count_nonzero(m & (s == g)))


def apply(state: np.ndarray, a: Action) -> None:
    h, w = a.mask.shape
    region = state[a.y0:a.y0 + h, a.x0:a.x0 + w]
    if np.isscalar(a.value):
        region[a.mask] = a.value
    else:
        region[a.mask] = a.value[a.mask]


def error_components(scene: Scene, state: np.ndarray, k: int) -> list[Component]:
    """The k largest connected components of wrong pixels, per true class."""
    wrong = scene.valid & (state != scene.gt)
    found = []
    for c in np.unique(scene.gt[wrong]):
        n, lab, stats, _ = cv2.connectedComponentsWithStats((wrong & (scene.gt == c)).view(np.uint8), connectivity=8)
        for i in range(1, n):
            found.append((int(stats[i, cv2.CC_STAT_AREA]), int(c), i, lab, stats[i]))
    found.sort(key=lambda t: -t[0])
    comps = []
    for area, c, i, lab, st in found[:k]:
        x, y, w, h = (int(v) for v in st[:4])
        m = lab[y:y + h, x:x + w] == i
        dist = cv2.distanceTransform(np.pad(m, 1).view(np.uint8), cv2.DIST_L2, 3)[1:-1, 1:-1]
        py, px = np.unravel_index(int(np.argmax(dist)), dist.shape)
        comps.append(Component(c, area, x, y, m, (x + int(px), y + int(py))))
    return comps


def true_object(scene: Scene, comp: Component):
    """(object id, x0, y0, bool crop) of the ground-truth region of comp's class around it."""
    lab, stats = scene.objects(comp.cls)
    oid = int(lab[comp.point[1], comp.point[0]])
    x, y, w, h = (int(v) for v in stats[oid, :4])
    return oid, x, y, lab[y:y + h, x:x + w] == oid


def outline_polygons(mask: np.ndarray, x0: int, y0: int):
    cs, _ = cv2.findContours(mask.view(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if not cs:
        return []
    c = max(cs, key=cv2.contourArea)
    out = []
    for eps in POLY_EPS:
        pts = cv2.approxPolyDP(c, eps, True).reshape(-1, 2) + (x0, y0)
        if len(pts) >= 3:
            out.append([(float(px), float(py)) for px, py in pts])
    return out


def polygon_actions(scene, state, comp, protect=None):
    oid, ox, oy, om = true_object(scene, comp)
    polys = outline_polygons(comp.mask, comp.x0, comp.y0)
    polys += scene.cached(("objpoly", comp.cls, oid), lambda: outline_polygons(om, ox, oy))
    for pts in polys:
        pm = lm.polygon_mask(state.shape, pts)
        if pm is not None:
            (x0, y0, _, _), m = pm
            if protect is not None:
                region = state[y0:y0 + m.shape[0], x0:x0 + m.shape[1]]
                m = m & ((region == protect) | (region == scene.ignore))
            yield Action("polygon", len(pts) * COSTS["polygon vertex"], x0, y0, m, comp.cls, protect=protect)


def brush_actions(scene, state, comp, protect=None):
    """Brush strokes; with `protect` (a class X), in the "paint over unlabelled and X" mode: the disc may
    then also cross pixels of other classes (they stay as they are), not only the true object."""
    _, ox, oy, om = true_object(scene, comp)
    pad = BRUSH_SIZES[-1]
    x0, y0 = max(0, ox - pad), max(0, oy - pad)
    x1, y1 = min(scene.w, ox + om.shape[1] + pad), min(scene.h, oy + om.shape[0] + pad)
    obj = np.zeros((y1 - y0, x1 - x0), np.uint8)
    obj[oy - y0:oy - y0 + om.shape[0], ox - x0:ox - x0 + om.shape[1]] = om
    paintable = None
    if protect is not None:
        st = state[y0:y1, x0:x1]
        paintable = (st == protect) | (st == scene.ignore)
        obj |= (~paintable | (scene.gt[y0:y1, x0:x1] == comp.cls)).view(np.uint8)
    wrong = np.zeros_like(obj)
    wrong[comp.y0 - y0:comp.y0 - y0 + comp.mask.shape[0], comp.x0 - x0:comp.x0 - x0 + comp.mask.shape[1]] = comp.mask
    inside = _inside_distance(obj, cv2.BORDER_REPLICATE)
    for size in BRUSH_SIZES:
        r = size // 2
        disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
        # A careful hand keeps the disc HAND_PX inside the object: its aim is only that precise.
        centres = (inside > (size - 1) / 2 + HAND_PX + 0.25).view(np.uint8) & cv2.dilate(wrong, disc)
        if not centres.any():
            continue
        painted = cv2.dilate(centres, disc).astype(bool)
        if paintable is not None:
            painted &= paintable
        n, lab, stats, _ = cv2.connectedComponentsWithStats(centres, connectivity=8)
        inner = (_inside_distance(centres, cv2.BORDER_CONSTANT) > 2 * r + 0.25).view(np.uint8)
        path = sum(_stroke_path(lab == i, inner, r) for i in range(1, n))
        cost = (n - 1) * COSTS["brush stroke"] + path / 100 * COSTS["brush path per 100 px"]
        yield Action("brush", cost, x0, y0, painted, comp.cls, protect=protect)


def _inside_distance(mask: np.ndarray, border: int) -> np.ndarray:
    """Euclidean distance of each pixel of `mask` to the nearest pixel outside it (a disc of radius
    (k - 1) / 2 fits where it exceeds that + 0.25: the same centres as cv2.erode with a k x k ellipse to
    within 0.5 % of pixels, in a fraction of the time for big brushes). Beyond the crop the mask is
    continued (BORDER_REPLICATE) or taken as inside (BORDER_CONSTANT)."""
    pad = 2 * BRUSH_SIZES[-1] + 2
    padded = cv2.copyMakeBorder(mask, pad, pad, pad, pad, border, value=1)
    return cv2.distanceTransform(padded, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)[pad:-pad, pad:-pad]


def _stroke_path(centres: np.ndarray, inner: np.ndarray, r: int) -> float:
    """Path length of one brush stroke whose disc centres must cover `centres` (see the docstring)."""
    area = int(np.count_nonzero(centres))
    if area <= 1:
        return 0.0
    cs, _ = cv2.findContours(centres.view(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    perim = sum(cv2.arcLength(c, True) for c in cs)
    if area <= 2 * perim:  # at most ~4 px wide: one pass along it
        return perim / 2
    # Trace the outline (the disc's edge then follows the object's edge), zig-zag what it leaves inside.
    return perim + np.count_nonzero(inner & centres) / max(1, 2 * r)


def fill_actions(scene, state, comp):
    x, y = comp.point
    after = state.copy()
    diff = lm.flood_fill(after, x, y, comp.cls)
    if diff is not None:
        bx0, by0, bx1, by1 = diff.bbox
        changed = after[by0:by1, bx0:bx1] != state[by0:by1, bx0:bx1]
        yield Action("fill", COSTS["click"], bx0, by0, changed, comp.cls)


def wrong_as(state, comp) -> int:
    """The label the component wrongly has most: the X of its "paint over unlabelled and X" mode."""
    labels = state[comp.y0:comp.y0 + comp.mask.shape[0], comp.x0:comp.x0 + comp.mask.shape[1]][comp.mask]
    return int(np.bincount(labels).argmax())


def with_protect(scene, state, actions, comp):
    """Each action, and its variant in the studio's "paint over unlabelled and X" mode, X being the
    label the component wrongly has most (other classes' pixels inside the action stay as they are)."""
    x = wrong_as(state, comp)
    for a in actions:
        yield a
        h, w = a.mask.shape
        region = state[a.y0:a.y0 + h, a.x0:a.x0 + w]
        m = a.mask & ((region == x) | (region == scene.ignore))
        if m.any() and not np.array_equal(m, a.mask):
            yield Action(a.tool, a.cost, a.x0, a.y0, m, a.value, protect=x)


def superpixel_actions(scene, state, comp, correct_per_sp):
    for level, (lab, counts, spacing) in scene.superpixels().items():
        crop = lab[comp.y0:comp.y0 + comp.mask.shape[0], comp.x0:comp.x0 + comp.mask.shape[1]]
        ids = np.unique(crop[comp.mask])
        g = counts[ids, comp.cls] - correct_per_sp[level][ids]
        ids, g = ids[g > 0], g[g > 0]
        if ids.size == 0:
            continue
        for chosen, kind in ((ids[[int(np.argmax(g))]], "click"), (ids, "stroke")):
            if kind == "stroke" and chosen.size == 1:
                continue
            bx0, by0, crop_m = scene.segments_mask(level, chosen)
            if kind == "click":
                cost = COSTS["click"]
            else:
                groups = cv2.connectedComponents(crop_m.view(np.uint8), connectivity=8)[0] - 1
                cost = groups * COSTS["brush stroke"] + (chosen.size - groups) * spacing / 100
            yield Action(f"superpixel {level}", cost, bx0, by0, crop_m, comp.cls)


def superpixel_sweeps(scene, state, correct_per_sp):
    """One stroke through each connected group of superpixels that would gain from one class: the
    sweep along an edge band a human makes when several wrong patches of a class lie side by side."""
    for level, (lab, counts, spacing) in scene.superpixels().items():
        g = counts - correct_per_sp[level][:, None]
        best = g.argmax(1)
        gain = g[np.arange(g.shape[0]), best]
        for c in np.unique(best[gain > 0]):
            chosen = np.flatnonzero((best == c) & (gain > 0))
            if chosen.size < 2:
                continue
            n, comp, stats, _ = cv2.connectedComponentsWithStats(np.isin(lab, chosen).view(np.uint8),
                                                                 connectivity=8)
            for i in range(1, n):
                bx0, by0, bw, bh = (int(v) for v in stats[i, :4])
                m = comp[by0:by0 + bh, bx0:bx0 + bw] == i
                ids = np.unique(lab[by0:by0 + bh, bx0:bx0 + bw][m])
                if ids.size < 2:
                    continue
                cost = COSTS["brush stroke"] + (ids.size - 1) * spacing / 100 * COSTS["brush path per 100 px"]
                yield Action(f"superpixel {level} sweep", cost, bx0, by0, m, int(c))


def wand_actions(scene, state, comp, last_tolerance):
    x, y = comp.point
    for tol in WAND_TOLERANCES:
        sel = scene.wand().select(x, y, tol)
        if sel is not None:
            (bx0, by0, _, _), m = sel
            cost = COSTS["click"] * (1 if tol == last_tolerance else 2)
            yield Action(f"wand {tol:g}", cost, bx0, by0, m, comp.cls)


def model_wand_actions(scene, state, comp, last_tolerance):
    mw = scene.model_wand()
    if mw is None:
        return
    x, y = comp.point
    for level in LEVELS:
        for tol in MODEL_WAND_TOLERANCES:
            sel = mw.select(level, comp.cls, x, y, tol)
            if sel is not None:
                (bx0, by0, _, _), m = sel
                cost = COSTS["click"] * (1 if tol == last_tolerance else 2)
                yield Action(f"modelwand {tol:g} {level}", cost, bx0, by0, m, comp.cls)


def grabcut_actions(scene, state, comp):
    if comp.area < 30:
        return
    oid, ox, oy, om = true_object(scene, comp)
    box = (max(0, ox - 2), max(0, oy - 2), min(scene.w, ox + om.shape[1] + 2), min(scene.h, oy + om.shape[0] + 2))
    res = scene.cached(("grabcut", box), lambda: grabcut_box(scene.image, box))
    if res is not None:
        (bx0, by0, _, _), m = res
        yield Action("grabcut", COSTS["box"], bx0, by0, m, comp.cls)


def repredict_actions(scene, state, comp):
    if scene.predictor is None or comp.area < 30:
        return
    from segstudio.nets.region_predict import predict_box

    pad = 16
    box = (max(0, comp.x0 - pad), max(0, comp.y0 - pad), min(scene.w, comp.x0 + comp.mask.shape[1] + pad),
           min(scene.h, comp.y0 + comp.mask.shape[0] + pad))
    labels = scene.cached(("repredict", box), lambda: predict_box(scene.predictor, scene.image, box))
    yield Action("repredict", COSTS["box"], box[0], box[1], np.ones(labels.shape, bool), labels)


def candidates(scene, state, comps, kit, last):
    """Every action of the kit for these components; `last`: the last tolerance used per tool."""
    correct_per_sp = None
    if "superpixel" in kit:
        right = scene.valid & (state == scene.gt)
        correct_per_sp = {lv: np.bincount(lab[right], minlength=counts.shape[0])
                          for lv, (lab, counts, _) in scene.superpixels().items()}
    if "superpixel" in kit:
        yield from superpixel_sweeps(scene, state, correct_per_sp)
    for comp in comps:
        yield from polygon_actions(scene, state, comp)
        yield from brush_actions(scene, state, comp)
        if "protect" in kit:
            x = wrong_as(state, comp)
            yield from polygon_actions(scene, state, comp, x)
            yield from brush_actions(scene, state, comp, x)
        if "fill" in kit:
            yield from fill_actions(scene, state, comp)
        assisted = []
        if "superpixel" in kit:
            assisted.append(superpixel_actions(scene, state, comp, correct_per_sp))
        if "wand" in kit:
            assisted.append(wand_actions(scene, state, comp, last.get("wand")))
        if "modelwand" in kit:
            assisted.append(model_wand_actions(scene, state, comp, last.get("modelwand")))
        if "grabcut" in kit:
            assisted.append(grabcut_actions(scene, state, comp))
        for actions in assisted:
            yield from (with_protect(scene, state, actions, comp) if "protect" in kit else actions)
        if "repredict" in kit:
            yield from repredict_actions(scene, state, comp)


def annotate(scene: Scene, start: np.ndarray, kit, target: float, cap: int, k: int, trace=None) -> dict:
    """Correct `start` greedily (see the module docstring) until `target` accuracy or `cap` actions."""
    state = start.copy()
    correct = int(np.count_nonzero(scene.valid & (state == scene.gt)))
    cost, actions, mode = 0.0, 0, None
    last: dict[str, float] = {}
    spent: Counter = Counter()
    while correct < target * scene.n_valid and actions < cap:
        comps = error_components(scene, state, k)
        best, best_key = None, None
        for a in candidates(scene, state, comps, kit, last):
            g = gain(scene, state, a)
            if g <= 0:
                continue
            a_cost = a.cost + (PROTECT_SWITCH if a.protect != mode else 0)
            key = (g / max(a_cost, 1e-9), -a_cost)
            if best_key is None or key > best_key:
                best, best_key, best_gain, best_cost = a, key, g, a_cost
        if best is None:
            break
        apply(state, best)
        correct += best_gain
        cost += best_cost
        actions += 1
        spent[best.tool.split()[0]] += best_cost
        if trace is not None:
            trace.append((best.tool, round(float(best_cost), 2), best_gain, round(correct / scene.n_valid, 4)))
        mode = best.protect
        if best.tool.split()[0] in ("wand", "modelwand"):
            last[best.tool.split()[0]] = float(best.tool.split()[1])
    acc = correct / max(1, scene.n_valid)
    return {"cost": cost, "actions": actions, "accuracy": acc, "reached": acc >= target, "spent": dict(spent),
            "state": state}


def load_pairs(images_dir: Path, gt_dir: Path, limit: int | None):
    gts = label_pngs(gt_dir)
    pairs = [(p, gts[p.stem]) for p in list_images(images_dir) if p.stem in gts]
    if not pairs:
        sys.exit(f"no image in {images_dir} has a label PNG of the same name in {gt_dir}")
    if limit and limit < len(pairs):
        step = len(pairs) / limit  # spread over the sequence, not the first N neighbouring frames
        pairs = [pairs[int(i * step)] for i in range(limit)]
    return pairs


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=Path, required=True)
    ap.add_argument("--gt", type=Path, required=True)
    ap.add_argument("--labels", required=True, help="label set: voc, camvid or a label-set file")
    ap.add_argument("--model", default=None, help="model name or path (default: the default model)")
    ap.add_argument("--limit", type=int, default=None, help="use N images spread over the folder")
    ap.add_argument("--target", type=float, default=0.95)
    ap.add_argument("--cap", type=int, default=400, help="most actions per image")
    ap.add_argument("--components", type=int, default=8, help="wrong components considered per step")
    ap.add_argument("--hand-px", type=int, default=HAND_PX,
                    help="brush placement precision in px (0 = a perfect hand)")
    return ap.parse_args()


def mean(xs):
    return float(np.mean(xs)) if xs else float("nan")


def main() -> None:
    args = parse_args()
    global HAND_PX
    HAND_PX = args.hand_px
    labelset = resolve_labelset(args.labels)
    from segstudio.nets.predictor import Predictor
    from segstudio.nets.uncertainty import working_probabilities

    from segstudio.nets.checkpoint import DEFAULT_MODEL_NAME

    model = args.model or DEFAULT_MODEL_NAME
    predictor = Predictor.from_checkpoint(model, device="cpu")
    print("costs: " + ", ".join(f"{k} {v}" for k, v in COSTS.items()))
    print(f"target pixel accuracy {args.target:.0%}, cap {args.cap} actions, hand precision {HAND_PX} px; "
          f"model {model}; "
          f"baseline = {'+'.join(BASELINE)}; toolset = {'+'.join(TOOLSET)}")
    rows, t0 = [], time.perf_counter()
    for img_path, gt_path in load_pairs(args.images, args.gt, args.limit):
        image = load_image(img_path)
        gt = read_label_png(gt_path, expected_size=(image.shape[1], image.shape[0]))
        scene = Scene(image, gt, labelset.ignore_index, predictor, working_probabilities(predictor, image))
        pred = predictor.predict(image)
        empty = np.full(gt.shape, labelset.ignore_index, np.uint8)
        empty_scene = Scene(image, gt, labelset.ignore_index, None)
        empty_scene._sp, empty_scene._sp_obj, empty_scene._boxes = scene.superpixels(), scene._sp_obj, scene._boxes
        r = {"image": img_path.name,
             "start_accuracy": float(np.count_nonzero(scene.valid & (pred == gt)) / scene.n_valid),
             "baseline": annotate(scene, pred, BASELINE, args.target, args.cap, args.components),
             "toolset": annotate(scene, pred, TOOLSET, args.target, args.cap, args.components),
             "empty_baseline": annotate(empty_scene, empty, BASELINE, args.target, args.cap, args.components),
             "empty_toolset": annotate(empty_scene, empty, EMPTY_TOOLSET, args.target, args.cap, args.components)}
        rows.append(r)
        print(f"{r['image']}: prediction {r['start_accuracy']:.1%} | from prediction baseline "
              f"{r['baseline']['cost']:.1f} toolset {r['toolset']['cost']:.1f} | from empty baseline "
              f"{r['empty_baseline']['cost']:.1f} toolset {r['empty_toolset']['cost']:.1f} | toolset spent "
              f"{ {k: round(v, 1) for k, v in r['toolset']['spent'].items()} } / empty "
              f"{ {k: round(v, 1) for k, v in r['empty_toolset']['spent'].items()} }", flush=True)
    summary(rows, args, time.perf_counter() - t0)


def summary(rows, args, seconds) -> None:
    def m(key, field="cost"):
        return mean([r[key][field] for r in rows])

    spent: Counter = Counter()
    for r in rows:
        spent.update(r["toolset"]["spent"])
    total = sum(spent.values()) or 1.0
    out = {
        "images": len(rows), "target_pixel_accuracy": args.target,
        "start_pixel_accuracy_mean": mean([r["start_accuracy"] for r in rows]),
        "baseline_cost_mean": m("baseline"), "toolset_cost_mean": m("toolset"),
        "effort_ratio": m("baseline") / max(m("toolset"), 1e-9),
        "empty_baseline_cost_mean": m("empty_baseline"), "empty_toolset_cost_mean": m("empty_toolset"),
        "empty_effort_ratio": m("empty_baseline") / max(m("empty_toolset"), 1e-9),
        "toolset_reached": mean([float(r["toolset"]["reached"] and r["empty_toolset"]["reached"]) for r in rows]),
        "baseline_reached": mean([float(r["baseline"]["reached"] and r["empty_baseline"]["reached"]) for r in rows]),
        "toolset_cost_share": {k: round(v / total, 3) for k, v in spent.most_common()},
        "seconds": round(seconds, 1),
    }
    print(f"means over {len(rows)} images: from prediction baseline {out['baseline_cost_mean']:.1f} vs toolset "
          f"{out['toolset_cost_mean']:.1f} = {out['effort_ratio']:.2f}x; from empty baseline "
          f"{out['empty_baseline_cost_mean']:.1f} vs toolset {out['empty_toolset_cost_mean']:.1f} = "
          f"{out['empty_effort_ratio']:.2f}x; toolset reached {out['toolset_reached']:.0%}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
