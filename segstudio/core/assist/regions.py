"""Low-confidence regions: where to look next when reviewing a prediction.

`low_confidence_regions(conf, threshold)` finds the connected regions whose
confidence is below a threshold and returns them largest first, each with its
box and a centre point inside it, so the GUI can jump to the next one.
Confidence maps are uint8 (0 = no confidence, 255 = certain) or float in [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Region:
    area: int
    bbox: tuple[int, int, int, int]  # x0, y0, x1, y1 end-exclusive
    center: tuple[int, int]  # a pixel of the region nearest its centroid
    mean_confidence: float  # 0..1


def as_unit(conf: np.ndarray) -> np.ndarray:
    """Confidence as float32 in [0, 1] (uint8 maps are divided by 255)."""
    if conf.dtype == np.uint8:
        return conf.astype(np.float32) * (1.0 / 255.0)
    return conf.astype(np.float32, copy=False)


def low_confidence_regions(conf: np.ndarray, threshold: float = 0.5, min_area: int = 16,
                           close: int = 3) -> list[Region]:
    """Connected regions (8-connected, after a `close` px morphological closing) with confidence < threshold."""
    unit = as_unit(conf)
    low = (unit < threshold).astype(np.uint8)
    if close > 1:
        low = cv2.morphologyEx(low, cv2.MORPH_CLOSE, np.ones((close, close), np.uint8))
    n, lab, stats, cents = cv2.connectedComponentsWithStats(low, connectivity=8)
    out = []
    for i in np.argsort(-stats[1:, cv2.CC_STAT_AREA]) + 1:
        area = int(stats[i, cv2.CC_STAT_AREA])
        if area < min_area:
            break
        x, y, w, h = (int(v) for v in stats[i, :4])
        sub = lab[y:y + h, x:x + w] == i
        ys, xs = np.nonzero(sub)
        cx, cy = cents[i]
        k = int(np.argmin((xs + x - cx) ** 2 + (ys + y - cy) ** 2))
        out.append(Region(area, (x, y, x + w, y + h), (int(xs[k] + x), int(ys[k] + y)),
                          float(unit[y:y + h, x:x + w][sub].mean())))
    return out
