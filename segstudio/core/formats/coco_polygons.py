"""COCO polygon annotations of a label map: pixel-outline polygons, one per 8-connected component.

Vertices follow the pixel *outline*, not pixel centres: a class mask is
upsampled 2x and traced with cv2.findContours, and the trace (through the
centres of the upsampled boundary pixels) is mapped back to image
coordinates, a quarter pixel inside the true outline. pycocotools fills a
pixel when its centre lies inside the polygon, so the outline re-rasterises
to the component exactly in nearly all cases, one-pixel-wide strokes
included, which centre-line contours lose.

Each class is traced once, cropped to its bounding box (RETR_CCOMP: every
outer contour is one component, its children are its holes), never one
full-image array per component. A component with holes cannot be a COCO
polygon (the polygons of an annotation are unioned), so it is written as RLE
(from its runs, coco_rle) instead.

All polygons of an image are rasterised by pycocotools in one call for their
area and bbox, and the rasters' runs are compared with the source's: when
equal (the usual case) the export is exact and the confusion matrix is the
class pixel counts; otherwise the rasters are painted (pycocotools decode)
and compared pixel by pixel.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from pycocotools import mask as mask_utils

from ..metrics import ConfusionMatrix
from .coco_rle import canonical_runs, class_runs_digest, decode_runs, encode_runs, runs_digest


def _trace(component_or_mask: np.ndarray) -> tuple[tuple, np.ndarray | None]:
    """cv2 contours and hierarchy of a 0/1 uint8 mask, padded by 1 and upsampled 2x."""
    padded = cv2.copyMakeBorder(component_or_mask, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    big = cv2.resize(padded, None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)
    contours, hierarchy = cv2.findContours(big, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    return contours, (hierarchy[0] if hierarchy is not None else None)


def _outline(contour: np.ndarray) -> np.ndarray:
    """A traced contour as an N x 2 outline in the traced mask's pixel-edge coordinates."""
    pts = contour.reshape(-1, 2).astype(np.float64)
    # upsampled pixel u has its centre at (u + 0.5) / 2; subtract the 1-pixel pad
    pts = (pts + 0.5) / 2.0 - 1.0
    if len(pts) < 3:  # a single upsampled point or segment: make it a thin quad
        x0, y0 = pts.min(axis=0)
        x1, y1 = pts.max(axis=0)
        pts = np.array([[x0, y0], [x1 + 0.01, y0], [x1 + 0.01, y1 + 0.01], [x0, y1 + 0.01]])
    return pts


def outline_polygon(component: np.ndarray) -> tuple[np.ndarray | None, bool]:
    """(N x 2 float outline of an 8-connected component, has_holes).

    `component` is a 0/1 uint8 crop containing exactly one component. The
    polygon is in the crop's pixel-edge coordinates (pixel (x, y) spans
    [x, x+1] x [y, y+1]); every vertex is a multiple of 0.25, exact in floats.
    """
    contours, hierarchy = _trace(component)
    if not contours:
        return None, False
    has_holes = bool((hierarchy[:, 3] >= 0).any())
    outer = max((c for c, h in zip(contours, hierarchy) if h[3] < 0), key=cv2.contourArea)
    return _outline(outer), has_holes


def _column_pieces(s: np.ndarray, e: np.ndarray, h: int) -> tuple[np.ndarray, np.ndarray]:
    """Column-major runs [s, e) split where they cross from one column to the next."""
    x0 = s // h
    n = (e - 1) // h - x0 + 1
    if (n == 1).all():
        return s, e
    idx = np.repeat(np.arange(len(s)), n)
    col = x0[idx] + np.arange(idx.size) - np.repeat(np.cumsum(n) - n, n)
    return np.maximum(s[idx], col * h), np.minimum(e[idx], (col + 1) * h)


def _holed_bodies(crop: np.ndarray, box: tuple, seeds: list[tuple[int, int]], runs: tuple, h: int, w: int) -> list[dict]:
    """RLE bodies of the components of a class crop holding `seeds` (crop (x, y) pixels),
    cut from the class's column-major runs (sorted by start)."""
    bx0, by0 = box[0], box[1]
    cc = cv2.connectedComponents(crop, connectivity=8)[1]
    wanted = [int(cc[y, x]) for x, y in seeds]
    ps, pe = _column_pieces(*runs, h)  # a run over a column boundary may join two components
    comp = cc[ps % h - by0, ps // h - bx0]
    keep = np.isin(comp, wanted)
    merged = canonical_runs(ps[keep], pe[keep], comp[keep])
    return encode_runs(*merged, h, w)[1]


@dataclass
class PolygonResult:
    anns: list[dict]  # without ids
    digest: bytes  # class runs digest of the label map the annotations decode to
    fallbacks: int  # components with holes written as RLE
    confusion: np.ndarray  # source vs re-decoded


def _class_box(s: np.ndarray, e: np.ndarray, h: int) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) inclusive bounds of column-major runs [s, e) in an image of height h."""
    x0, x1 = s // h, (e - 1) // h
    crosses = x1 > x0
    y0 = np.where(crosses, 0, s % h)
    y1 = np.where(crosses, h - 1, (e - 1) % h)
    return int(x0.min()), int(y0.min()), int(x1.max()), int(y1.max())


def _trace_class(labels: np.ndarray, c: int, runs: tuple) -> tuple[list[list[float]], list[dict]]:
    """(outline polygons of the components without holes, RLE bodies of those with holes) of class c,
    whose column-major runs (sorted by start) are `runs`."""
    h, w = labels.shape
    box = _class_box(*runs, h)
    bx0, by0, bx1, by1 = box
    crop = (labels[by0:by1 + 1, bx0:bx1 + 1] == c).view(np.uint8)
    contours, hierarchy = _trace(crop)
    polys, seeds = [], []
    for contour, (_, _, child, parent) in zip(contours, hierarchy if hierarchy is not None else []):
        if parent >= 0:
            continue
        if child < 0:
            polys.append((_outline(contour) + (float(bx0), float(by0))).ravel().tolist())
        else:
            u, v = contour[0, 0]  # a traced pixel of the component, upsampled and padded
            seeds.append((u // 2 - 1, v // 2 - 1))
    return polys, (_holed_bodies(crop, box, seeds, runs, h, w) if seeds else [])


def polygon_annotations(labels: np.ndarray, runs: tuple, num_classes: int, fill: int) -> PolygonResult:
    """Polygon (or, for holed components, RLE) annotations of a label map whose column-major
    class runs (starts, ends, values; values < num_classes) are `runs`."""
    h, w = labels.shape
    s, e, v = runs
    order = np.argsort(v, kind="stable")
    lo = np.concatenate(([0], np.flatnonzero(np.diff(v[order])) + 1, [len(v)]))
    polys, poly_cls, holed = [], [], []
    for a, b in zip(lo[:-1], lo[1:]):
        if a == b:
            continue
        c = int(v[order[a]])
        class_polys, bodies = _trace_class(labels, c, (s[order[a:b]], e[order[a:b]]))
        polys += class_polys
        poly_cls += [c] * len(class_polys)
        holed += [(c, body) for body in bodies]
    anns: list[dict] = []
    texts: list[str] = []
    if polys:
        rles = mask_utils.frPyObjects(polys, h, w)
        # pycocotools' area() fails for more than 255 RLEs at once under numpy 2 (uint8 shape array)
        areas = [a for i in range(0, len(rles), 255) for a in mask_utils.area(rles[i:i + 255]).tolist()]
        boxes = mask_utils.toBbox(rles).tolist()
        texts = [r["counts"].decode("ascii") for r in rles]
        anns = [{"category_id": c + 1, "segmentation": [p], "area": a, "bbox": bb, "iscrowd": 0}
                for c, p, a, bb in zip(poly_cls, polys, areas, boxes)]
    for c, body in holed:
        anns.append({"category_id": c + 1, **body, "iscrowd": 0})
        texts.append(body["segmentation"]["counts"])
    return _checked(labels, runs, anns, texts, num_classes, fill, len(holed))


def _checked(labels, runs, anns, texts, k: int, fill: int, fallbacks: int) -> PolygonResult:
    """The result with the digest and confusion of what the annotations rasterise to."""
    s, e, v = runs
    values = np.array([a["category_id"] - 1 for a in anns], np.int64)
    got = None
    if texts:
        rs, re_, owner, _ = decode_runs(texts)
        got = canonical_runs(rs, re_, values[owner])
    elif len(s) == 0:
        got = (s, e, v)
    if got is not None and all(np.array_equal(x, y) for x, y in zip(got, runs)):
        conf = np.zeros((k, k + 1), np.int64)
        conf[np.arange(k), np.arange(k)] = np.bincount(v, weights=e - s, minlength=k)[:k].astype(np.int64)
        return PolygonResult(anns, runs_digest(s, e, v), fallbacks, conf)
    rebuilt = np.full(labels.shape, fill, np.uint8)
    for ann, text in zip(anns, texts):
        m = mask_utils.decode({"size": list(labels.shape), "counts": text.encode("ascii")})
        rebuilt[m.view(bool)] = ann["category_id"] - 1
    conf = ConfusionMatrix(k).update(labels, rebuilt)
    return PolygonResult(anns, class_runs_digest(rebuilt, k), fallbacks, conf)
