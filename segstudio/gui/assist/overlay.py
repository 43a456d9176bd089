"""A transparent widget over the canvas that draws what the assisted tools show before they commit.

It sits on top of the canvas (same geometry, transparent for the mouse) and
draws, in image coordinates through the canvas's zoom and offset: the preview
region in the current class's colour (or the re-predicted labels), superpixel
boundaries, the box being dragged, GrabCut hint strokes, and the confidence
heat map. Arrays are wrapped as Indexed8 QImages with alpha in the colour
table, like the canvas's label overlay.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPen
from PySide6.QtWidgets import QWidget

from ..overlay import indexed_image

if TYPE_CHECKING:
    import numpy as np

BOUNDARY_COLOR = QColor(255, 255, 0, 150)


def indexed(arr: np.ndarray, table: list[int]) -> QImage:
    """`indexed_image` over `arr` (made C-contiguous uint8 if it is not), which the image keeps alive."""
    import numpy as np

    arr = np.ascontiguousarray(arr, dtype=np.uint8)
    img = indexed_image(arr, table)
    img._keep = arr  # the QImage points into arr
    return img


def heat_table(alpha: int = 140) -> list[int]:
    """Confidence 0 (red, opaque) .. 255 (transparent): low confidence stands out."""
    out = []
    for v in range(256):
        t = v / 255.0
        a = int(alpha * (1.0 - t) ** 0.7)
        out.append(QColor(255, int(200 * t), 0, a).rgba())
    return out


class AssistOverlay(QWidget):
    def __init__(self, canvas):
        super().__init__(canvas)
        self.canvas = canvas
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.setAttribute(Qt.WidgetAttribute.WA_NoSystemBackground)
        self.preview: tuple[int, int, QImage] | None = None  # x0, y0, image (image pixels)
        self.boundaries: QImage | None = None  # drawn over the whole image
        self.heat: QImage | None = None
        self.box: tuple[float, float, float, float] | None = None  # image coordinates
        self.strokes: list[tuple[QColor, list[tuple[float, float]]]] = []
        self.setGeometry(canvas.rect())
        canvas.installEventFilter(self)
        canvas.zoomChanged.connect(lambda _s: self.update())
        self.raise_()
        self.hide()

    def update(self, *args) -> None:
        # Hidden while it has nothing to draw: a visible child would be repainted (and cost a
        # QPainter) on every brush stroke of the canvas under it.
        wanted = (any(v is not None for v in (self.preview, self.boundaries, self.heat, self.box))
                  or bool(self.strokes))
        if wanted == self.isHidden():
            self.setVisible(wanted)
        super().update(*args)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if obj is self.canvas and event.type() == QEvent.Type.Resize:
            self.setGeometry(self.canvas.rect())
        return False

    def set_mask_preview(self, x0: int, y0: int, mask: np.ndarray | None, color: tuple[int, int, int]) -> None:
        import numpy as np

        if mask is None:
            self.preview = None
        else:
            table = [0, QColor(*color, 170).rgba()]
            self.preview = (x0, y0, indexed(mask.view(np.uint8), table))
        self.update()

    def set_labels_preview(self, x0: int, y0: int, labels: np.ndarray, table: list[int]) -> None:
        self.preview = (x0, y0, indexed(labels, table))
        self.update()

    def set_boundaries(self, boundary: np.ndarray | None) -> None:
        import numpy as np

        self.boundaries = None if boundary is None else indexed(boundary.view(np.uint8), [0, BOUNDARY_COLOR.rgba()])
        self.update()

    def set_heat(self, conf: np.ndarray | None) -> None:
        self.heat = None if conf is None else indexed(conf, heat_table())
        self.update()

    def clear_tool(self) -> None:
        self.preview, self.box, self.strokes = None, None, []
        self.update()

    def paintEvent(self, event) -> None:
        c = self.canvas
        if not c.has_image():
            return
        w, h = c.image_size()
        p = QPainter(self)
        p.translate(c.offset)
        p.scale(c.scale, c.scale)
        whole = QRectF(0, 0, w, h)
        for img in (self.heat, self.boundaries):
            if img is not None:
                p.drawImage(whole, img)
        if self.preview is not None:
            x0, y0, img = self.preview
            p.drawImage(QRectF(x0, y0, img.width(), img.height()), img)
        p.resetTransform()
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        for color, pts in self.strokes:
            p.setPen(QPen(color, 3))
            for a, b in zip(pts, pts[1:]):
                p.drawLine(c.to_widget(*a), c.to_widget(*b))
        if self.box is not None:
            x0, y0, x1, y1 = self.box
            r = QRectF(c.to_widget(x0, y0), c.to_widget(x1, y1)).normalized()
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.setPen(QPen(QColor(0, 0, 0), 1))
            p.drawRect(r.adjusted(-1, -1, 1, 1))
            p.setPen(QPen(QColor(255, 255, 255), 1, Qt.PenStyle.DashLine))
            p.drawRect(r)


