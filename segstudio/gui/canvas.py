"""The canvas: shows an image with its document's label map and turns mouse input into document edits.

Rendering: the image is a Format_RGB32 QImage made once
per image (decoded and converted on the prefetch thread);
the label map is drawn as Format_Indexed8 QImages over the numpy buffer with a
colour table that carries the overlay alpha (the ignore index is fully
transparent). Each paint only touches the exposed rectangle: the labels under
it are wrapped (sampled every `step` pixels when zoomed out, so the cost
follows the screen area, not the image size) and drawn with nearest-neighbour
scaling (the cost follows the screen area; see docs/design.md).

Editing belongs to `core.document.Document`: the canvas only turns mouse and
key events into document calls (brush and eraser strokes, polygon: click
vertices, Enter / double-click fills, Backspace drops a vertex, Esc cancels;
flood fill) and repaints, once, the widget rectangle covering each bbox the
document reports as changed, whoever changed it (an edit, undo, a
prediction). Alt+click picks the class under the cursor. Wheel zooms around
the cursor; middle-drag or space+drag pans.
"""

from __future__ import annotations

import math
from enum import Enum
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QPointF, QRect, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPen
from PySide6.QtWidgets import QWidget

from .overlay import color_table, indexed_image, sampled

if TYPE_CHECKING:  # numpy and OpenCV (core.labelmap) load after the first paint, with the first image
    import numpy as np

    from segstudio.core import labelmap as lm
    from segstudio.core.document import Document
    from segstudio.core.labels import LabelSet

MIN_ZOOM = 1 / 64
MAX_ZOOM = 64.0
DISAGREE_COLOR = QColor(255, 0, 255, 220)


class Tool(str, Enum):
    BRUSH = "brush"
    ERASER = "eraser"
    POLYGON = "polygon"
    FILL = "fill"


class Canvas(QWidget):
    cursorMoved = Signal(object)      # (x, y, value-or-None) in image pixels, or None when outside
    zoomChanged = Signal(float)
    classPicked = Signal(int)
    message = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(True)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setMinimumSize(200, 150)
        self._qimage: QImage | None = None  # the image, over self._pixels
        self._pixels: np.ndarray | None = None
        self.doc: Document | None = None
        self.gt: np.ndarray | None = None
        self.labelset: LabelSet | None = None
        self._table: list[int] = []
        self._outline_table: list[int] = []
        self.scale = 1.0
        self.offset = QPointF(0, 0)
        self.tool = Tool.BRUSH
        self.brush_size = 15
        self.current_class = 0
        self.protect: frozenset[int] | None = None  # label values edits leave alone
        self.protect_under_press = False  # instead: leave alone all but unlabelled and the class under the press
        self.opacity = 0.5
        self.overlay_visible = True
        self.outline_mode = False
        self.show_gt = False
        self.show_disagreement = False
        self.editable = True
        self._polygon: list[tuple[float, float]] = []
        self._pan_from: QPointF | None = None
        self._space = False
        self._cursor: QPointF | None = None
        self._fitted = True

    # --- content ---------------------------------------------------------
    def set_labelset(self, labelset: LabelSet) -> None:
        self.labelset = labelset
        self._rebuild_tables()
        self.update()

    @property
    def labels(self) -> np.ndarray | None:
        """The shown document's label map (None when nothing is shown)."""
        return self.doc.labels if self.doc is not None else None

    def set_document(self, pixels: np.ndarray, doc: Document, keep_view: bool = False) -> None:
        """Show an image with its document; repaint whatever the document reports as changed.

        `pixels` is H x W x 4 uint8 in B, G, R, X byte order (image_loader.decode),
        wrapped without a copy as QImage.Format_RGB32 -- Qt's native raster format.
        """
        h, w = pixels.shape[:2]
        if doc.labels is None or doc.labels.shape != (h, w):
            raise ValueError(f"the document's label map does not match image {h}x{w}")
        if pixels.ndim != 3 or pixels.shape[2] != 4 or not pixels.flags.c_contiguous:
            raise ValueError("pixels must be a C-contiguous H x W x 4 BGRX array")
        self.cancel_interaction()
        self._detach()
        self._pixels = pixels  # the QImage points into it
        self._qimage = QImage(pixels.data, w, h, pixels.strides[0], QImage.Format.Format_RGB32)
        self.doc = doc
        doc.subscribe(on_change=self._doc_changed)
        self.gt = None
        if not keep_view or self._fitted:
            self.fit()
        self.update()

    def _doc_changed(self, bbox) -> None:
        if self.doc is not None and self.doc.labels is not None:
            self.refresh(bbox)

    def _detach(self) -> None:
        if self.doc is not None:
            self.doc.unsubscribe(on_change=self._doc_changed)
        self.doc = None

    def set_gt(self, gt: np.ndarray | None) -> None:
        self.gt = gt
        self.update()

    def clear(self) -> None:
        self.cancel_interaction()
        self._detach()
        self._qimage = None
        self._pixels = None
        self.gt = None
        self.update()

    def has_image(self) -> bool:
        return self._qimage is not None and self.labels is not None

    def image_size(self) -> tuple[int, int]:
        return (self.labels.shape[1], self.labels.shape[0]) if self.labels is not None else (0, 0)

    # --- display options ---------------------------------------------------
    def set_opacity(self, opacity: float) -> None:
        self.opacity = float(opacity)
        self._rebuild_tables()
        self.update()

    def set_overlay_visible(self, on: bool) -> None:
        self.overlay_visible = bool(on)
        self.update()

    def set_outline_mode(self, on: bool) -> None:
        self.outline_mode = bool(on)
        self.update()

    def set_show_gt(self, on: bool) -> None:
        self.show_gt = bool(on)
        self.update()

    def set_show_disagreement(self, on: bool) -> None:
        self.show_disagreement = bool(on)
        self.update()

    def set_tool(self, tool: Tool) -> None:
        self.cancel_interaction()
        self.tool = Tool(tool)
        self.update()

    def set_brush_size(self, size: int) -> None:
        self.brush_size = max(1, int(size))
        self.update()

    def _rebuild_tables(self) -> None:
        if self.labelset is not None:
            self._table = color_table(self.labelset, self.opacity)
            # Thin outlines need more opacity than filled areas to stay visible.
            self._outline_table = color_table(self.labelset, min(1.0, max(self.opacity * 2, 0.3)))

    # --- view transform ------------------------------------------------------
    def to_image(self, pos: QPointF) -> tuple[float, float]:
        return ((pos.x() - self.offset.x()) / self.scale, (pos.y() - self.offset.y()) / self.scale)

    def to_widget(self, x: float, y: float) -> QPointF:
        return QPointF(self.offset.x() + x * self.scale, self.offset.y() + y * self.scale)

    def fit(self) -> None:
        if self.labels is None:
            return
        h, w = self.labels.shape
        s = min(self.width() / w, self.height() / h)
        self._set_view(s, QPointF((self.width() - w * s) / 2, (self.height() - h * s) / 2))
        self._fitted = True

    def zoom_1to1(self) -> None:
        self.zoom_to(1.0, QPointF(self.width() / 2, self.height() / 2))

    def zoom_step(self, direction: int) -> None:
        """Zoom in (1) or out (-1) by 1.25x around the centre of the widget."""
        self.zoom_to(self.scale * (1.25 ** direction), self.rect().center().toPointF())

    def zoom_to(self, scale: float, anchor: QPointF) -> None:
        """Zoom so that the image point under widget point `anchor` stays there."""
        scale = min(max(scale, MIN_ZOOM), MAX_ZOOM)
        ix, iy = self.to_image(anchor)
        self._set_view(scale, QPointF(anchor.x() - ix * scale, anchor.y() - iy * scale))
        self._fitted = False

    def _set_view(self, scale: float, offset: QPointF) -> None:
        # Integer offsets keep pixel edges on screen-pixel boundaries at high zoom.
        self.scale = scale
        self.offset = QPointF(round(offset.x()), round(offset.y()))
        self.update()
        self.zoomChanged.emit(self.scale)

    def pan_by(self, dx: float, dy: float) -> None:
        self._set_view(self.scale, self.offset + QPointF(dx, dy))
        self._fitted = False

    def resizeEvent(self, event) -> None:
        if self._fitted:
            self.fit()
        super().resizeEvent(event)

    def step(self) -> int:
        """Sampling step of the overlay: 1 at zoom >= 1, about 1/zoom below."""
        return max(1, int(1.0 / self.scale)) if self.scale < 1 else 1

    def widget_rect_of(self, bbox: lm.BBox, margin: int = 2) -> QRect:
        """Widget rectangle covering image bbox (widened to whole overlay samples)."""
        x0, y0, x1, y1 = bbox
        st = self.step()
        if st > 1:
            x0, y0 = (x0 // st) * st, (y0 // st) * st
            x1, y1 = -(-x1 // st) * st, -(-y1 // st) * st
        r = QRectF(self.offset.x() + x0 * self.scale, self.offset.y() + y0 * self.scale,
                   (x1 - x0) * self.scale, (y1 - y0) * self.scale)
        return r.toAlignedRect().adjusted(-margin, -margin, margin, margin)

    def refresh(self, bbox: lm.BBox | None = None) -> None:
        """Repaint what shows image region `bbox` (everything if None)."""
        if bbox is None:
            self.update()
        else:
            self.update(self.widget_rect_of(bbox))

    # --- painting ----------------------------------------------------------
    def paintEvent(self, event) -> None:
        p = QPainter(self)
        rect = event.rect()
        p.fillRect(rect, QColor(48, 48, 48))
        if not self.has_image():
            p.setPen(QColor(200, 200, 200))
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "Open a folder or an image (File menu)")
            return
        h, w = self.labels.shape
        s = self.scale
        ox, oy = self.offset.x(), self.offset.y()
        ix0 = max(int(math.floor((rect.left() - ox) / s)), 0)
        iy0 = max(int(math.floor((rect.top() - oy) / s)), 0)
        ix1 = min(int(math.ceil((rect.right() + 1 - ox) / s)), w)
        iy1 = min(int(math.ceil((rect.bottom() + 1 - oy) / s)), h)
        if ix0 < ix1 and iy0 < iy1:
            p.save()
            p.setClipRect(rect)
            p.translate(ox, oy)
            p.scale(s, s)
            p.setClipRect(QRectF(0, 0, w, h), Qt.ClipOperation.IntersectClip)
            src = QRectF(ix0, iy0, ix1 - ix0, iy1 - iy0)
            # Zoomed out, bilinear sampling keeps photographs readable; zoomed in,
            # nearest neighbour keeps pixels sharp-edged. The overlay is always nearest.
            p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, s < 1.0)
            p.drawImage(src, self._qimage, src)
            p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
            self._paint_overlay(p, ix0, iy0, ix1, iy1)
            p.restore()
        self._paint_tool_feedback(p)

    def _paint_overlay(self, p: QPainter, ix0, iy0, ix1, iy1) -> None:
        st = self.step()
        x0, y0 = (ix0 // st) * st, (iy0 // st) * st
        ig = self.labelset.ignore_index if self.labelset else 255
        shown = self.gt if (self.show_gt and self.gt is not None) else self.labels
        keep = []
        if self.overlay_visible:
            arr = sampled(shown, x0, y0, ix1, iy1, st, ig if self.outline_mode else None)
            keep.append(arr)
            img = indexed_image(arr, self._outline_table if self.outline_mode else self._table)
            p.drawImage(QRectF(x0, y0, arr.shape[1] * st, arr.shape[0] * st), img)
        if self.show_disagreement and self.gt is not None:
            g = self.gt[y0:iy1:st, x0:ix1:st]
            lab = self.labels[y0:iy1:st, x0:ix1:st]
            import numpy as np

            dis = np.ascontiguousarray(((g != lab) & (g != ig)).view(np.uint8))
            keep.append(dis)
            img = indexed_image(dis, [0, DISAGREE_COLOR.rgba()])
            p.drawImage(QRectF(x0, y0, dis.shape[1] * st, dis.shape[0] * st), img)

    def _paint_tool_feedback(self, p: QPainter) -> None:
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        if self.tool == Tool.POLYGON and self._polygon:
            pts = [self.to_widget(x, y) for x, y in self._polygon]
            if self._cursor is not None:
                pts.append(self._cursor)
            p.setPen(QPen(QColor(255, 255, 255), 1.5))
            for a, b in zip(pts, pts[1:]):
                p.drawLine(a, b)
            p.setPen(QPen(QColor(255, 255, 0), 1.5, Qt.PenStyle.DashLine))
            if len(pts) > 2:
                p.drawLine(pts[-1], pts[0])
            p.setBrush(QColor(255, 255, 0))
            for q in pts[:len(self._polygon)]:
                p.drawEllipse(q, 3, 3)
        elif self.tool in (Tool.BRUSH, Tool.ERASER) and self._cursor is not None and self._pan_from is None:
            from segstudio.core.labelmap import brush_radius

            r = brush_radius(self.brush_size) * self.scale
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.setPen(QPen(QColor(0, 0, 0), 1))
            p.drawEllipse(self._cursor, r + 1, r + 1)
            p.setPen(QPen(QColor(255, 255, 255), 1))
            p.drawEllipse(self._cursor, r, r)

    def _cursor_rect(self, pos: QPointF | None) -> QRect:
        if pos is None:
            return QRect()
        from segstudio.core.labelmap import brush_radius

        r = brush_radius(self.brush_size) * self.scale + 4
        return QRectF(pos.x() - r, pos.y() - r, 2 * r, 2 * r).toAlignedRect()

    # --- interaction ----------------------------------------------------------
    def cancel_interaction(self) -> None:
        """Abandon a polygon in progress; a stroke in progress is finished normally."""
        if self.doc is not None and self.doc.stroking:
            self.doc.end_stroke()
        if self._polygon:
            self._polygon = []
            self.update()

    def is_busy(self) -> bool:
        """True while a stroke is half-painted into the label map (autosave waits).

        A polygon in progress has not touched the map yet, so it does not count.
        """
        return self.doc is not None and self.doc.stroking

    def _value(self) -> int:
        if self.tool == Tool.ERASER:
            return self.labelset.ignore_index
        return self.current_class

    def _can_edit(self) -> bool:
        if not self.has_image() or not self.editable:
            return False
        if self.show_gt and self.gt is not None:
            self.message.emit("Showing ground truth: turn off View > Show ground truth to edit")
            return False
        return True

    def mousePressEvent(self, event) -> None:
        pos = event.position()
        btn = event.button()
        if btn == Qt.MouseButton.MiddleButton or (btn == Qt.MouseButton.LeftButton and self._space):
            self._pan_from = pos
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
            return
        if btn != Qt.MouseButton.LeftButton or not self.has_image():
            return
        x, y = self.to_image(pos)
        if event.modifiers() & Qt.KeyboardModifier.AltModifier:
            from segstudio.core.labelmap import pick

            v = pick(self.gt if self.show_gt and self.gt is not None else self.labels, x, y)
            if v is not None and v < self.labelset.num_classes:
                self.classPicked.emit(v)
            return
        if not self._can_edit():
            return
        if self.tool in (Tool.BRUSH, Tool.ERASER):
            self.doc.begin_stroke(self._value(), self.brush_size, self.protect_at(x, y))
            self.doc.extend_stroke(x, y)
        elif self.tool == Tool.FILL:
            self.doc.fill(x, y, self.current_class, self.protect_at(x, y))
        elif self.tool == Tool.POLYGON:
            h, w = self.labels.shape
            self._polygon.append((min(max(x, 0.0), w - 1e-3), min(max(y, 0.0), h - 1e-3)))
            self.update()

    def mouseMoveEvent(self, event) -> None:
        pos = event.position()
        if self._pan_from is not None:
            d = pos - self._pan_from
            self._pan_from = pos
            self.pan_by(d.x(), d.y())
            return
        old = self._cursor
        self._cursor = pos
        if self.is_busy():
            x, y = self.to_image(pos)
            self.doc.extend_stroke(x, y)
        if self.tool in (Tool.BRUSH, Tool.ERASER):
            self.update(self._cursor_rect(old))
            self.update(self._cursor_rect(pos))
        elif self.tool == Tool.POLYGON and self._polygon:
            self.update()
        self._emit_cursor(pos)

    def _emit_cursor(self, pos: QPointF) -> None:
        if not self.has_image():
            return
        x, y = self.to_image(pos)
        xi, yi = int(math.floor(x)), int(math.floor(y))
        h, w = self.labels.shape
        if 0 <= xi < w and 0 <= yi < h:
            src = self.gt if self.show_gt and self.gt is not None else self.labels
            self.cursorMoved.emit((xi, yi, int(src[yi, xi])))
        else:
            self.cursorMoved.emit(None)

    def mouseReleaseEvent(self, event) -> None:
        if self._pan_from is not None and event.button() in (Qt.MouseButton.MiddleButton, Qt.MouseButton.LeftButton):
            self._pan_from = None
            self.setCursor(Qt.CursorShape.OpenHandCursor if self._space else Qt.CursorShape.ArrowCursor)
            return
        if event.button() == Qt.MouseButton.LeftButton and self.is_busy():
            self.doc.end_stroke()

    def mouseDoubleClickEvent(self, event) -> None:
        if self.tool == Tool.POLYGON and event.button() == Qt.MouseButton.LeftButton:
            self.close_polygon()
        else:
            self.mousePressEvent(event)

    def protect_at(self, x: float, y: float) -> frozenset[int] | None:
        """The label values an edit that starts at image point (x, y) leaves alone."""
        if not self.protect_under_press or self.labels is None or self.labelset is None:
            return self.protect
        from segstudio.core.document import protect_for_press

        return protect_for_press(self.labels, x, y, self.labelset.ignore_index)

    def close_polygon(self) -> None:
        pts, self._polygon = self._polygon, []
        self.update()
        if len(pts) >= 3 and self._can_edit():
            self.doc.polygon(pts, self.current_class, self.protect_at(*pts[0]))

    def leaveEvent(self, event) -> None:
        old, self._cursor = self._cursor, None
        self.update(self._cursor_rect(old))
        self.cursorMoved.emit(None)

    def wheelEvent(self, event) -> None:
        if not self.has_image():
            return
        steps = event.angleDelta().y() / 120.0
        if steps:
            self.zoom_to(self.scale * (1.25 ** steps), event.position())

    def event(self, event) -> bool:
        # While a stroke is half-painted, keep shortcuts (undo, next image...) from
        # changing the label map under it: the key goes to keyPressEvent instead.
        if event.type() == QEvent.Type.ShortcutOverride and self.is_busy():
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event) -> None:
        key = event.key()
        if key == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = True
            self.setCursor(Qt.CursorShape.OpenHandCursor)
        elif self.tool == Tool.POLYGON and key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.close_polygon()
        elif self.tool == Tool.POLYGON and key == Qt.Key.Key_Backspace and self._polygon:
            self._polygon.pop()
            self.update()
        elif key == Qt.Key.Key_Escape and self._polygon:
            self._polygon = []
            self.update()
        else:
            super().keyPressEvent(event)

    def keyReleaseEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = False
            if self._pan_from is None:
                self.setCursor(Qt.CursorShape.ArrowCursor)
        else:
            super().keyReleaseEvent(event)
