"""Re-predict a region: the model predicts one box of the image (with context around it) again.

The crop is predicted at the scale the model predicts the whole image at
(`Predictor.working_factor` of the whole image: the shipped CamVid models learned
at a short side of 180 px), so objects in the box have the size the model was
trained on. Predicting the crop at full resolution instead (`scale=1.0`) shows
them 2-3x larger than it learned, and measured worse. benchmarks/bench_assist.py
--repredict --frames 4 (24 boxes of 120 px on CamVid val, shipped SegNet-Basic),
pixel accuracy / small-class recall in the boxes: whole-image prediction 0.743 /
0.706; crop at the working scale with 32 px context 0.720 / 0.362, 64 px 0.764 /
0.538, 128 px 0.747 / 0.685; crop at full resolution 0.581 / 0.487. So 64 px of
context; the small classes still come out better in the whole-image prediction.
Returns labels for the box only; the caller replaces the labels inside the box
as one edit. No Qt here.
"""

from __future__ import annotations

import numpy as np

from segstudio.core.jobs import CancelFn, check_cancel

BBox = tuple[int, int, int, int]

#: Pixels of context around the box given to the model (then cut away), at full resolution.
CONTEXT = 64
#: Smallest side of the crop the model sees (tiny boxes get more context).
MIN_SIDE = 96


def context_crop(box: BBox, shape: tuple[int, int], context: int = CONTEXT) -> BBox:
    """The box grown by `context` px (and to at least MIN_SIDE), clipped to the image."""
    h, w = shape
    x0, y0, x1, y1 = box
    gx = max(context, (MIN_SIDE - (x1 - x0) + 1) // 2)
    gy = max(context, (MIN_SIDE - (y1 - y0) + 1) // 2)
    return max(0, x0 - gx), max(0, y0 - gy), min(w, x1 + gx), min(h, y1 + gy)


def predict_box(predictor, image: np.ndarray, box: BBox, context: int = CONTEXT,
                cancelled: CancelFn | None = None, scale: float | None = None) -> np.ndarray:
    """uint8 labels (y1-y0 x x1-x0) for `box` = (x0, y0, x1, y1) of an RGB image.

    `scale`: the resize factor for the crop; None = the factor the predictor applies to the whole image."""
    h, w = image.shape[:2]
    x0, y0, x1, y1 = max(0, int(box[0])), max(0, int(box[1])), min(w, int(box[2])), min(h, int(box[3]))
    if x1 <= x0 or y1 <= y0:
        raise ValueError(f"empty box {box} on a {w}x{h} image")
    cx0, cy0, cx1, cy1 = context_crop((x0, y0, x1, y1), (h, w), context)
    crop = np.ascontiguousarray(image[cy0:cy1, cx0:cx1])
    check_cancel(cancelled)
    factor = predictor.working_factor(w, h) if scale is None else float(scale)
    return predictor.predict(crop, scale=factor)[y0 - cy0:y1 - cy0, x0 - cx0:x1 - cx0]
