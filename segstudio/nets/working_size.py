"""The size an image is predicted at (its working size), kept sane for any image shape and any scale.

The predictor resizes an image by a working factor before the network: the one
that brings its short side to the card's `train_short_side`, the card's fixed
`resize`, or the user's `--scale`. For an ordinary photo that is a moderate
factor; for a 4000x3 strip, bringing the 3-px side to 180 px would make a
240,000-px-wide array (a MemoryError after minutes). So:

* upscaling is capped: it never makes the long side exceed `MAX_UPSCALED_SIDE`
  nor the area exceed `MAX_UPSCALED_PIXELS` (an image already that large is
  not upscaled at all; downscaling is never limited);
* a strip thinner than the network's minimum side (its output stride) is
  also squeezed along its long side to at most `MAX_STRIP_SIDE` (a 100000x2
  image is predicted at 1024x2 and its labels stretched back): a strip has
  no 2-D context to lose, and the work stays that of one small tile
  (architectures that pad their input, like FCN's 100 px, would otherwise
  spend 100x the work of the strip's own pixels);
* a side shorter than that minimum is then padded (mirrored) up to it before
  the network and the padding cropped from the result (`pad_to`), instead of
  being stretched, so a 1xN or Nx1 image is predicted;
* a scale must be a finite number in [MIN_SCALE, MAX_SCALE] (`check_scale`).

No torch, no Qt: numpy only.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from segstudio.core.limits import MAX_SCALE, MIN_SCALE, scale_problem

from .errors import ModelError

#: Upscaling stops when the long side reaches this many working pixels.
MAX_UPSCALED_SIDE = 4096
#: ... or when the working area reaches this (4096 x 4096). (At 8192, a 3x360 image at the shipped models'
#: scale became 68x8192: 13x the pixels of a CamVid frame at that scale, for an image that narrow.)
MAX_UPSCALED_PIXELS = 4096 * 4096
#: A strip (working short side below the network's minimum) is predicted at most this long.
MAX_STRIP_SIDE = 1024
__all__ = ["MAX_SCALE", "MIN_SCALE", "bounded_factor", "check_scale", "pad_to", "working_dims"]


def check_scale(scale, derived: bool = False) -> float:
    """`scale` as a float; ModelError unless it is a number in [MIN_SCALE, MAX_SCALE] (`derived`: any
    finite positive number, as the factors the predictor derives are before `bounded_factor`)."""
    if derived:
        ok = isinstance(scale, numbers.Real) and not isinstance(scale, bool) and 0 < scale < math.inf
        problem = None if ok else f"scale must be a positive number, got {scale!r}"
    else:
        problem = scale_problem(scale)
    if problem:
        raise ModelError(problem)
    return float(scale)


def bounded_factor(width: int, height: int, factor: float) -> tuple[float, bool]:
    """(factor, capped): `factor`, or the largest upscaling allowed for a width x height image when it
    asks for more (see the module docstring); `capped` says which."""
    limit = max(1.0, min(MAX_UPSCALED_SIDE / max(width, height, 1),
                         math.sqrt(MAX_UPSCALED_PIXELS / max(1, width * height))))
    return (limit, True) if factor > limit else (factor, False)


def scaled(width: int, height: int, factor: float) -> tuple[int, int]:
    """(width, height) of a width x height image resized by `factor` (at least 1 px a side)."""
    return max(1, round(width * factor)), max(1, round(height * factor))


def working_dims(width: int, height: int, factor: float, min_side: int) -> tuple[float, tuple[int, int], bool]:
    """(factor, (width, height), bounded) of a width x height image predicted at `factor` by a network
    whose inputs need `min_side` px a side (see the module docstring); `bounded` says the size is not
    what `factor` alone would give."""
    factor, capped = bounded_factor(width, height, factor)
    w, h = scaled(width, height, factor)
    if min(w, h) < min_side and max(w, h) > MAX_STRIP_SIDE:  # a strip: squeeze its long side
        w, h = min(w, MAX_STRIP_SIDE), min(h, MAX_STRIP_SIDE)
        capped = True
    return factor, (w, h), capped


def pad_to(image: np.ndarray, min_side: int) -> np.ndarray:
    """`image` (H x W x C) mirrored at its bottom and right edges until both sides are >= min_side;
    itself when they already are. The caller crops the prediction back to the first H rows and W columns."""
    h, w = image.shape[:2]
    dh, dw = max(0, min_side - h), max(0, min_side - w)
    if not dh and not dw:
        return image
    return np.ascontiguousarray(np.pad(image, ((0, dh), (0, dw), (0, 0)), mode="symmetric"))
