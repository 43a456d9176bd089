"""Similar-region click: the superpixels whose pretrained features are close to the clicked one's.

The colour wand stops at colour edges and the model wand follows the model's
classes; this tool follows what the pretrained network sees. `SimilarRegion(
features, superpixels)` takes a C x h x w feature map with unit-length pixels
(nets/features.py: any resolution, the studio keeps the network's stride 8)
and the image's `Superpixels`. A superpixel's feature is the normalised mean
of the feature map over it (computed once per level, on a grid of at most
`GRID_PIXELS`). `select(level, x, y, tolerance)` returns the clicked
superpixel and the 8-connected superpixels around it whose cosine distance
(1 - cosine similarity) to the clicked one is at most `tolerance` (0..2), as
((x0, y0, x1, y1), full-resolution bool mask), the model wand's shape. The
region is made of whole superpixels: it snaps to their colour edges. Nothing
here uses Qt or torch.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from segstudio.core.assist.superpixels import Superpixels
from segstudio.core.errors import SegstudioError

BBox = tuple[int, int, int, int]
#: Segment means are taken on the superpixel map reduced to at most this many pixels.
GRID_PIXELS = 250_000


class SimilarRegion:
    def __init__(self, features: np.ndarray, superpixels: Superpixels):
        if not isinstance(features, np.ndarray) or features.ndim != 3 or features.shape[0] < 1:
            raise SegstudioError(f"the similar-region click needs C x H x W features, got "
                                 f"{getattr(features, 'shape', features)}")
        self.features = features
        self.sp = superpixels
        self._means: dict[str, np.ndarray] = {}

    def segment_features(self, level: str) -> np.ndarray:
        """(segments x C) float32 unit-length mean feature of each segment of `level` (zero if too small
        to be seen on the grid)."""
        if level not in self._means:
            labels = self.sp.levels[level]
            lh, lw = labels.shape
            f = min(1.0, math.sqrt(GRID_PIXELS / max(1, lh * lw)))
            gw, gh = max(1, round(lw * f)), max(1, round(lh * f))
            ys = np.minimum((np.arange(gh) * lh / gh).astype(np.int64), lh - 1)
            xs = np.minimum((np.arange(gw) * lw / gw).astype(np.int64), lw - 1)
            grid = labels[ys[:, None], xs[None, :]]
            n = self.sp.count(level)
            flat = grid.ravel()
            out = np.zeros((n, self.features.shape[0]), np.float32)
            for c, plane in enumerate(self.features):
                up = cv2.resize(plane.astype(np.float32), (gw, gh), interpolation=cv2.INTER_LINEAR)
                out[:, c] = np.bincount(flat, up.ravel(), minlength=n)
            norm = np.linalg.norm(out, axis=1, keepdims=True)
            self._means[level] = np.divide(out, norm, out=np.zeros_like(out), where=norm > 0)
        return self._means[level]

    def distances(self, level: str, seg: int) -> np.ndarray:
        """Cosine distance (0..2) of every segment of `level` to segment `seg`; inf for unseen segments."""
        m = self.segment_features(level)
        d = 1.0 - m @ m[seg]
        d[~m.any(axis=1)] = np.inf
        d[seg] = 0.0
        return d

    def select(self, level: str, x: float, y: float, tolerance: float) -> tuple[BBox, np.ndarray] | None:
        """The clicked superpixel and the 8-connected superpixels around it within `tolerance` (cosine
        distance) of it, as (bbox, full-resolution mask); None outside the image."""
        seg = self.sp.segment_at(level, x, y)
        if seg is None:
            return None
        labels = self.sp.levels[level]
        ok = self.distances(level, seg) <= tolerance
        _, comps = cv2.connectedComponents(ok[labels].view(np.uint8), connectivity=8)
        region = comps == np.bincount(comps[labels == seg]).argmax()
        return self.sp.mask(level, np.unique(labels[region]))
