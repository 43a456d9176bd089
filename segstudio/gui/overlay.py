"""What the canvas draws over the image: colour tables and label maps wrapped as indexed QImages.

The label map is drawn as Format_Indexed8 QImages over the numpy buffer with
a colour table that carries the overlay alpha (the ignore index is fully
transparent), sampled every `step` pixels when zoomed out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtGui import QImage

if TYPE_CHECKING:
    import numpy as np

    from segstudio.core.labels import LabelSet


def color_table(labelset: LabelSet, opacity: float) -> list[int]:
    """256 ARGB entries: class colours with `opacity`, the ignore index transparent.

    Values outside the label set (invalid) are shown opaque white so they stand out.
    """
    alpha = max(0, min(255, round(opacity * 255)))
    table = []
    for i, (r, g, b) in enumerate(labelset.color_table()):
        if i == labelset.ignore_index:
            table.append(0)
        elif i < labelset.num_classes:
            table.append((alpha << 24) | (r << 16) | (g << 8) | b)
        else:
            table.append((255 << 24) | 0xFFFFFF)
    return table


def indexed_image(arr: np.ndarray, table: list[int]) -> QImage:
    """QImage (Indexed8) over a C-contiguous uint8 array; keep `arr` alive while it is used."""
    h, w = arr.shape
    img = QImage(arr.data, w, h, arr.strides[0], QImage.Format.Format_Indexed8)
    img.setColorTable(table)
    return img


def sampled(a: np.ndarray, x0, y0, x1, y1, st, outline_bg=None) -> np.ndarray:
    """`a[y0:y1:st, x0:x1:st]` (C-contiguous), or its class outlines when `outline_bg` is given."""
    import numpy as np

    from segstudio.core.labelmap import outline

    if outline_bg is None:
        return np.ascontiguousarray(a[y0:y1:st, x0:x1:st])
    # One sample of margin so boundaries at the edge of the region are found.
    h, w = a.shape
    mx0, my0 = max(x0 - st, 0), max(y0 - st, 0)
    mx1, my1 = min(x1 + st, w), min(y1 + st, h)
    sub = a[my0:my1:st, mx0:mx1:st]
    o = outline(sub, outline_bg)
    cx, cy = (x0 - mx0) // st, (y0 - my0) // st
    nx, ny = len(range(x0, x1, st)), len(range(y0, y1, st))
    return np.ascontiguousarray(o[cy:cy + ny, cx:cx + nx])
