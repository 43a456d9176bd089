"""The actions each tool offers the simulated annotator of benchmarks/bench_effort.py for one wrong
component (what a careful human would do with that tool; the module docstring of bench_effort.py
describes each), built with segstudio's own tool code."""

from __future__ import annotations

import cv2
import numpy as np

from effort_scene import COSTS, Action, true_object
from segstudio.core import labelmap as lm
from segstudio.core.assist.grabcut import grabcut_box
from segstudio.core.assist.superpixels import LEVELS

#: Polygon coarseness a human may choose (approxPolyDP epsilon, px): from a tight outline to a rough
#: few-vertex polygon (before 2026-11-28 only 1.5 / 3 / 6, which overstated the baseline's cost).
POLY_EPS = (1.5, 3.0, 4.5, 6.0, 9.0, 12.0, 16.0, 20.0, 26.0, 32.0)
BRUSH_SIZES = (3, 7, 13, 25, 49)
#: How precisely a hand places a brush (px): the brush is kept this far inside the object (--hand-px).
HAND_PX = 1
#: Tolerances a human may pick by watching the live preview while dragging.
WAND_TOLERANCES = (3.0, 4.0, 6.0, 8.0, 11.0, 16.0, 22.0, 32.0, 45.0)
MODEL_WAND_TOLERANCES = (0.05, 0.1, 0.175, 0.25, 0.375, 0.5, 0.7)


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
            ok = a.press is None or int(state[a.press[1], a.press[0]]) == x
            yield Action(a.tool, a.cost, a.x0, a.y0, m, a.value, protect=x, press=a.press, press_ok=ok)


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
            yield Action(f"wand {tol:g}", cost, bx0, by0, m, comp.cls, press=(x, y))


def _region_actions(name, select, tolerances, comp, last_tolerance):
    """A region tool's click at the component's innermost pixel, at each level and tolerance;
    a tolerance other than the last one costs a drag too."""
    x, y = comp.point
    for level in LEVELS:
        for tol in tolerances:
            sel = select(level, x, y, tol)
            if sel is not None:
                (bx0, by0, _, _), m = sel
                cost = COSTS["click"] * (1 if tol == last_tolerance else 2)
                yield Action(f"{name} {tol:g} {level}", cost, bx0, by0, m, comp.cls, press=(x, y))


def model_wand_actions(scene, state, comp, last_tolerance):
    mw = scene.model_wand()
    if mw is None:
        return ()
    return _region_actions("modelwand", lambda level, x, y, tol: mw.select(level, comp.cls, x, y, tol),
                           MODEL_WAND_TOLERANCES, comp, last_tolerance)


SIMILAR_TOLERANCES = (0.1, 0.2, 0.3, 0.4, 0.5)


def similar_actions(scene, state, comp, last_tolerance):
    """The similar-region click (K) at the component's innermost pixel, each level and tolerance."""
    sr = scene.similar_region()
    if sr is None:
        return ()
    return _region_actions("similar", sr.select, SIMILAR_TOLERANCES, comp, last_tolerance)


def grabcut_actions(scene, state, comp):
    if comp.area < 30:
        return
    oid, ox, oy, om = true_object(scene, comp)
    box = (max(0, ox - 2), max(0, oy - 2), min(scene.w, ox + om.shape[1] + 2), min(scene.h, oy + om.shape[0] + 2))
    res = scene.cached(("grabcut", box), lambda: grabcut_box(scene.image, box))
    if res is not None:
        (bx0, by0, _, _), m = res
        centre = ((box[0] + box[2]) // 2, (box[1] + box[3]) // 2)  # where the studio looks for the start class
        yield Action("grabcut", COSTS["box"], bx0, by0, m, comp.cls, press=centre)


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
        if "similar" in kit:
            assisted.append(similar_actions(scene, state, comp, last.get("similar")))
        for actions in assisted:
            yield from (with_protect(scene, state, actions, comp) if "protect" in kit else actions)
        if "repredict" in kit:
            yield from repredict_actions(scene, state, comp)
