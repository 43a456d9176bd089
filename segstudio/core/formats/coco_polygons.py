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
area and bbox, and each class's rasters are merged (pycocotools) into one
mask compared with the class's own: RLE strings first (equal strings are
equal masks), then decoded runs. When every class matches (the usual case)
the export is exact and the confusion matrix is the class pixel counts;
otherwise the rasters' runs are painted, in annotation order, into one label
map compared pixel by pixel.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from pycocotools import mask as mask_utils

from ..metrics import ConfusionMatrix
from .coco_json import quarter_texts
from .coco_rle import canonical_runs, class_boxes, class_runs_digest, decode_runs, encode_runs, runs_digest


def _trace_padded(padded: np.ndarray) -> tuple[tuple, np.ndarray | None]:
    """cv2 contours and hierarchy of a 0/1 uint8 mask with a zero border, upsampled 2x."""
    big = cv2.resize(padded, None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)
    contours, hierarchy = cv2.findContours(big, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    return contours, (hierarchy[0] if hierarchy is not None else None)


def _upsampled(labels: np.ndarray) -> np.ndarray:
    """`labels` with every pixel repeated 2 x 2."""
    if labels.dtype in (np.uint8, np.uint16):
        return cv2.resize(labels, None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)
    return np.repeat(np.repeat(labels, 2, axis=0), 2, axis=1)


def _trace(mask: np.ndarray) -> tuple[tuple, np.ndarray | None]:
    """cv2 contours and hierarchy of a 0/1 uint8 mask, padded by 1 and upsampled 2x."""
    return _trace_padded(cv2.copyMakeBorder(mask, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0))


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


def _component_runs(padded: np.ndarray, box: tuple, seeds: list[tuple[int, int]], runs: tuple, h: int,
                    only: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(starts, ends, component 0..len(seeds)-1) of the components of a padded class crop holding `seeds`
    (padded (x, y) pixels), cut from the class's column-major runs (sorted by start); `only`: the
    class has no other component, so its runs are the component's."""
    if only:
        return runs[0], runs[1], np.zeros(len(runs[0]), np.int64)
    cc = cv2.connectedComponents(padded, connectivity=8)[1]
    wanted = np.zeros(int(cc.max()) + 1, bool)
    wanted[[int(cc[y, x]) for x, y in seeds]] = True
    ps, pe = _column_pieces(*runs, h)  # a run over a column boundary may join two components
    col, row = np.divmod(ps, h)
    comp = cc[row - (box[1] - 1), col - (box[0] - 1)]
    keep = wanted[comp]
    dense = np.cumsum(wanted) - 1  # component label -> its rank among the wanted ones
    return canonical_runs(ps[keep], pe[keep], dense[comp[keep]], presorted=True)


def _holed_bodies(holed: list[tuple], h: int, w: int) -> list[tuple[int, dict]]:
    """(class, RLE body) of every component with holes, in class order, from one encode_runs call;
    `holed`: (class, padded crop, box, seeds, class runs, only) per class that has such components."""
    parts, classes = [], []
    for c, padded, box, seeds, runs, only in holed:
        s, e, comp = _component_runs(padded, box, seeds, runs, h, only)
        parts.append((s, e, comp + len(classes)))
        classes += [c] * len(seeds)
    starts, ends, values = (np.concatenate(x) for x in zip(*parts))
    return list(zip(classes, encode_runs(starts, ends, values, h, w)[1], strict=True))


@dataclass
class PolygonResult:
    anns: list[dict]  # without ids
    digest: bytes  # class runs digest of the label map the annotations decode to (b"" unless `sampled`)
    fallbacks: int  # components with holes written as RLE
    confusion: np.ndarray  # source vs re-decoded
    seg_texts: list[str | None] | None = None  # per annotation: its segmentation as JSON text (coco_json)


def _outlines(contours: list[np.ndarray], x0: int, y0: int) -> tuple[list[list[float]], np.ndarray]:
    """Image-coordinate outlines (flat x, y lists) of contours traced in a crop padded at (x0 - 1, y0 - 1),
    and all their coordinates in one array."""
    lengths = [len(c) for c in contours]
    if min(lengths) < 3:
        polys = [(_outline(c) + (float(x0), float(y0))).ravel().tolist() for c in contours]
        return polys, np.concatenate(polys)
    pts = np.concatenate(contours).reshape(-1, 2).astype(np.float64)
    pts = (pts + 0.5) / 2.0 + (x0 - 1.0, y0 - 1.0)  # upsampled pixel u has its centre at (u + 0.5) / 2
    splits = (2 * np.cumsum([0] + lengths)).tolist()
    flat = pts.ravel()
    return [flat[a:b].tolist() for a, b in zip(splits[:-1], splits[1:])], flat


def _trace_class(labels: np.ndarray, big: np.ndarray, c: int, runs: tuple,
                 box: tuple) -> tuple[tuple[list, np.ndarray], tuple | None]:
    """((outline polygons, all their coordinates) of the components of class c without holes, what
    _holed_bodies needs for those with holes (None if none)); `big` is `labels` upsampled 2x, the
    class's column-major runs (sorted by start) are `runs` and its bounds `box`."""
    bx0, by0, bx1, by1 = box
    padded = np.zeros((by1 - by0 + 3, bx1 - bx0 + 3), np.uint8)
    np.equal(labels[by0:by1 + 1, bx0:bx1 + 1], c, out=padded[1:-1, 1:-1].view(bool))
    # `padded` upsampled 2x, cut from the image upsampled once (one resize per image, not per class)
    big_padded = np.zeros((2 * padded.shape[0], 2 * padded.shape[1]), np.uint8)
    np.equal(big[2 * by0:2 * by1 + 2, 2 * bx0:2 * bx1 + 2], c, out=big_padded[2:-2, 2:-2].view(bool))
    contours, hierarchy = cv2.findContours(big_padded, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    hierarchy = hierarchy[0] if hierarchy is not None else None
    outer, seeds = [], []
    if hierarchy is not None:
        top = np.flatnonzero(hierarchy[:, 3] < 0)  # outer contours: one per component
        holed = hierarchy[top, 2] >= 0  # ... with a hole among its children
        outer = [contours[i] for i in top[~holed].tolist()]
        # a traced pixel of each holed component, upsampled
        seeds = [(int(u) // 2, int(v) // 2) for u, v in (contours[i][0, 0] for i in top[holed].tolist())]
    polygons = _outlines(outer, bx0, by0) if outer else ([], np.zeros(0))
    return polygons, ((c, padded, box, seeds, runs, len(seeds) == 1 and not outer) if seeds else None)


def polygon_annotations(labels: np.ndarray, runs: tuple, num_classes: int, fill: int,
                        sampled: bool = True) -> PolygonResult:
    """Polygon (or, for holed components, RLE) annotations of a label map whose column-major
    class runs (starts, ends, values; values < num_classes) are `runs`; `sampled`: give the digest."""
    h, w = labels.shape
    s, e, v = runs
    order = np.argsort(v, kind="stable")
    s, e, v = s[order], e[order], v[order]
    lo = np.flatnonzero(np.concatenate(([True], v[1:] != v[:-1]))) if len(v) else np.zeros(0, np.int64)
    bounds = np.append(lo, len(v)).tolist()
    polys, poly_coords, poly_cls, holed_parts = [], [], [], []
    big = _upsampled(labels) if len(v) else labels
    for i, box in enumerate(zip(*class_boxes(s, e, lo, h)) if len(v) else []):
        a, b = bounds[i], bounds[i + 1]
        c = int(v[a])
        (class_polys, coords), class_holed = _trace_class(labels, big, c, (s[a:b], e[a:b]), box)
        polys += class_polys
        poly_coords.append(coords)
        poly_cls += [c] * len(class_polys)
        if class_holed is not None:
            holed_parts.append(class_holed)
    holed = _holed_bodies(holed_parts, h, w) if holed_parts else []
    anns: list[dict] = []
    rles: list[dict] = []  # each annotation's raster (pycocotools RLE)
    if polys:
        rles = mask_utils.frPyObjects(polys, h, w)
        # pycocotools' area() fails for more than 255 RLEs at once under numpy 2 (uint8 shape array)
        areas = [a for i in range(0, len(rles), 255) for a in mask_utils.area(rles[i:i + 255]).tolist()]
        boxes = mask_utils.toBbox(rles).tolist()
        anns = [{"category_id": c + 1, "segmentation": [p], "area": a, "bbox": bb, "iscrowd": 0}
                for c, p, a, bb in zip(poly_cls, polys, areas, boxes)]
    for c, body in holed:
        anns.append({"category_id": c + 1, **body, "iscrowd": 0})
        rles.append({"size": [h, w], "counts": body["segmentation"]["counts"].encode("ascii")})
    result = _checked(labels, runs, anns, rles, num_classes, fill, len(holed), sampled)
    poly_json = quarter_texts(np.concatenate(poly_coords), np.cumsum([0] + [len(p) for p in polys]).tolist()) \
        if polys else []  # each polygon's coordinates as JSON text (None: json writes them)
    result.seg_texts = (["[" + t + "]" for t in poly_json] if poly_json is not None else [None] * len(polys)) \
        + [None] * len(holed)
    return result


def _class_unions(rles: list[dict], values: list[int]) -> tuple[list[str], list[int]]:
    """(the union of each class's rasters, merged by pycocotools, as RLE counts; the classes)."""
    members: dict[int, list[dict]] = {}
    for r, c in zip(rles, values):
        members.setdefault(c, []).append(r)
    classes = sorted(members)
    unions = [mask_utils.merge(members[c]) if len(members[c]) > 1 else members[c][0] for c in classes]
    return [u["counts"].decode("ascii") for u in unions], classes


def _runs_equal(got: tuple | None, runs: tuple) -> bool:
    return got is not None and all(np.array_equal(x, y) for x, y in zip(got, runs))


def _checked(labels, runs, anns, rles, k: int, fill: int, fallbacks: int, sampled: bool) -> PolygonResult:
    """The result with the confusion and (`sampled`) digest of what the annotations rasterise to."""
    s, e, v = runs
    values = np.array([a["category_id"] - 1 for a in anns], np.int64)
    exact = len(s) == 0 and not rles
    if rles:  # each class's union equal to its runs: then so is the map they paint, in any order
        texts, classes = _class_unions(rles, values.tolist())
        found, bodies = encode_runs(s, e, v, *labels.shape)  # the classes' own pycocotools strings
        exact = found == classes and all(b["segmentation"]["counts"] == t for b, t in zip(bodies, texts))
        if not exact:  # equal masks may still be spelled differently (runs of length 0)
            us, ue, owner = decode_runs(texts)[:3]
            exact = _runs_equal(canonical_runs(us, ue, np.asarray(classes, np.int64)[owner]), runs)
    if exact:
        conf = np.zeros((k, k + 1), np.int64)
        conf[np.arange(k), np.arange(k)] = np.bincount(v, weights=e - s, minlength=k)[:k].astype(np.int64)
        return PolygonResult(anns, runs_digest(s, e, v) if sampled else b"", fallbacks, conf)
    h, w = labels.shape
    rs, re_, owner = decode_runs([r["counts"].decode("ascii") for r in rles])[:3] if rles else (s[:0], e[:0], s[:0])
    flat = np.full(h * w, fill, np.uint8)  # column-major; the decoded runs painted in annotation order
    for a, b, c in zip(rs.tolist(), re_.tolist(), values[owner].tolist()):
        flat[a:b] = c
    rebuilt = np.ascontiguousarray(flat.reshape(w, h).T)
    conf = ConfusionMatrix(k).update(labels, rebuilt)
    return PolygonResult(anns, class_runs_digest(rebuilt, k) if sampled else b"", fallbacks, conf)
