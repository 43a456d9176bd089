"""The pretrained features of an image, for the similar-region click (core/assist/similar_region.py).

`pretrained_features(predictor, image)` runs an `fcn8s-lite0` model's encoder
and decoder (not its classifier) on the image at the predictor's working
scale and returns a C x h x w float16 map at stride 8 of that scale: the
decoder's mixed stride-8 features (trained for the model's classes) beside the
ImageNet encoder's stride-16 tap (generic, upsampled), each L2-normalised per
pixel and the whole divided by sqrt(2), so the dot product of two pixels is a
cosine similarity in [-1, 1]. Another architecture raises ModelError naming it.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from segstudio.core.jobs import CancelFn, check_cancel

from .errors import ModelError


def feature_problem_of(model) -> str | None:
    if not (hasattr(model, "encoder") and hasattr(model, "decode") and hasattr(model.encoder, "features")):
        return (f"the similar-region click needs an fcn8s-lite0 model's pretrained features; "
                f"the selected model is a {getattr(model, 'arch', type(model).__name__)}")
    return None


@torch.inference_mode()
def pretrained_features(predictor, image: np.ndarray, cancelled: CancelFn | None = None) -> np.ndarray:
    """C x h x w float16, unit length per pixel, at stride 8 of the working scale (see the module)."""
    problem = feature_problem_of(predictor.model)
    if problem:
        raise ModelError(problem)
    check_cancel(cancelled)
    h, w = image.shape[:2]
    f = predictor.working_factor(w, h)
    size = (max(32, round(w * f)), max(32, round(h * f)))
    work = image if size == (w, h) else cv2.resize(image, size, interpolation=cv2.INTER_AREA if f < 1
                                                   else cv2.INTER_LINEAR)
    model = predictor.model
    x = predictor.preprocess([np.ascontiguousarray(work)])
    taps = model.encoder.features(x)
    check_cancel(cancelled)
    mixed = model.decode(taps).float()
    generic = F.interpolate(taps[2].float(), size=mixed.shape[-2:], mode="bilinear", align_corners=False)
    out = torch.cat([F.normalize(mixed, dim=1), F.normalize(generic, dim=1)], dim=1) / math.sqrt(2.0)
    return out[0].to("cpu", torch.float16).contiguous().numpy()
