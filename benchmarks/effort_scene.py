"""The simulated annotator's world (benchmarks/bench_effort.py): an image with its ground truth, the
tools' precomputed state, actions and their exact effect on a label map, and the wrong components the
annotator looks at. No policy here: that is in bench_effort.py; the tools' actions are in effort_actions.py."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from segstudio.core.assist.model_wand import ModelWand
from segstudio.core.assist.superpixels import LEVELS, compute_superpixels
from segstudio.core.assist.wand import Wand

COSTS = {"click": 1, "polygon vertex": 1, "brush stroke": 1, "brush path per 100 px": 1, "box": 2, "key": 0}


@dataclass
class Action:
    tool: str
    cost: float
    x0: int
    y0: int
    mask: np.ndarray  # bool, the pixels painted, at (x0, y0)
    value: int | np.ndarray  # a class, or per-pixel labels (re-predict)
    protect: int | None = None  # "paint over unlabelled and <class>" mode it needs (None: no protection)
    #: Where the action starts when that fixes "the class under the press" (a click, a box's centre); None:
    #: a stroke or polygon, which a hand can start on any pixel of the protected class.
    press: tuple[int, int] | None = None
    press_ok: bool = True  # the "class under the press" mode gives it its protection


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
        self.features = None  # fcn8s-lite0 pretrained features (similar-region click), or None
        self._similar = None
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

    def similar_region(self):
        if self._similar is None and self.features is not None:
            from segstudio.core.assist.similar_region import SimilarRegion

            self._similar = SimilarRegion(self.features, self._superpixels_object())
        return self._similar

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
