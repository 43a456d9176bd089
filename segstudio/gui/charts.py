"""Small charts drawn with QPainter: per-class bars, a confusion heatmap, line plots.

Three simple charts do not justify a dependency: QtCharts lives in the large
PySide6-Addons wheel (segstudio needs only PySide6-Essentials) and matplotlib
would add tens of megabytes and a second event-loop integration. Each chart is
a QWidget whose drawing routine paints onto any QPaintDevice, so `save_png`
renders the same picture off screen at a chosen size. Hovering a bar, a cell or a
point shows its value in a tool tip: each chart keeps the geometry of its last
on-screen drawing (`_hits`) and `hover_text(pos)` reads it.

pyqtgraph was tried in their place (issue 25): hover and zoom came with it, and
529 lines became 423, but opening the evaluation dialog went from 0.18 to 0.62 s
(its import), redrawing the confusion matrix from 2 to 130 ms and the PNG exports
3-7x slower, for a 1.9 MB dependency; the trial is in the history (git log --grep pyqtgraph).

    BarChart      horizontal bars, one per class (e.g. per-class IoU)
    HeatmapChart  a square matrix with row / column names (e.g. confusion)
    LineChart     (line_chart.py) named series of (x, y) points, e.g. live loss and mIoU
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

from PySide6.QtCore import QBuffer, QByteArray, QEvent, QIODevice, QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from segstudio.core.atomic import atomic_write_bytes

SERIES_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf")
AXIS_COLOR = QColor("#555555")
GRID_COLOR = QColor("#e4e4e4")
TEXT_COLOR = QColor("#222222")


def _finite(v) -> bool:
    return v is not None and isinstance(v, (int, float)) and math.isfinite(v)


def _nice_step(span: float, target_ticks: int = 5) -> float:
    """A 1-2-5 step giving about `target_ticks` intervals over `span`."""
    if span <= 0 or not math.isfinite(span):
        return 1.0
    raw = span / max(1, target_ticks)
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if m * mag >= raw:
            return m * mag
    return 10 * mag


def _fmt_tick(v: float, step: float) -> str:
    if step >= 1 and abs(v - round(v)) < 1e-9:
        return f"{int(round(v))}"
    exp = math.floor(math.log10(step))
    mantissa = step / 10 ** exp
    decimals = max(0, -exp + (1 if abs(mantissa - 2.5) < 1e-6 else 0))
    return f"{v:.{min(decimals, 6)}f}"


class _Chart(QWidget):
    """Common plumbing: title, background, `save_png`."""

    default_export_size = QSize(900, 560)

    def __init__(self, parent: QWidget | None = None, title: str = "") -> None:
        super().__init__(parent)
        self._title = title
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(200, 150)
        self._hits: dict = {}

    def title(self) -> str:
        return self._title

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt API)
        return QSize(480, 320)

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt API)
        p = QPainter(self)
        try:
            p.setRenderHint(QPainter.RenderHint.Antialiasing)
            self.draw(p, QRectF(0, 0, self.width(), self.height()))
        finally:
            p.end()

    def render_image(self, size: QSize | None = None) -> QImage:
        """The chart drawn off screen into an RGB image of `size` (default: widget size, at least 900x560)."""
        if size is None:
            size = self.size().expandedTo(self.default_export_size)
        img = QImage(size, QImage.Format.Format_RGB32)
        img.fill(QColor("white"))
        p = QPainter(img)
        try:
            p.setRenderHint(QPainter.RenderHint.Antialiasing)
            p.setFont(self.font())
            on_screen = self._hits
            self.draw(p, QRectF(0, 0, size.width(), size.height()))
            self._hits = on_screen
        finally:
            p.end()
        return img

    def save_png(self, path: str | Path, size: QSize | None = None) -> Path:
        """Write the chart as a PNG file (atomically); returns the path."""
        path = Path(path)
        buf = QByteArray()
        dev = QBuffer(buf)
        dev.open(QIODevice.OpenModeFlag.WriteOnly)
        if not self.render_image(size).save(dev, "PNG"):
            raise OSError(f"{path}: could not encode the chart as PNG")
        dev.close()
        atomic_write_bytes(path, bytes(buf.data()))
        return path

    def event(self, e) -> bool:
        if e.type() == QEvent.Type.ToolTip:
            text = self.hover_text(QPointF(e.pos()))
            if text:
                QToolTip.showText(e.globalPos(), text, self)
            else:
                QToolTip.hideText()
                e.ignore()
            return True
        return super().event(e)

    def hover_text(self, pos: QPointF) -> str | None:
        """The value under widget position `pos` as drawn on screen last, or None."""
        return None

    # --- drawing helpers -----------------------------------------------------
    def draw(self, p: QPainter, rect: QRectF) -> None:
        p.fillRect(rect, QColor("white"))

    def _draw_title(self, p: QPainter, rect: QRectF) -> float:
        """Draw the title at the top of `rect`; return the height it used."""
        if not self._title:
            return 4.0
        f = QFont(p.font())
        f.setBold(True)
        p.save()
        p.setFont(f)
        p.setPen(TEXT_COLOR)
        h = QFontMetrics(f).height() + 8
        p.drawText(QRectF(rect.left(), rect.top() + 2, rect.width(), h), Qt.AlignmentFlag.AlignCenter, self._title)
        p.restore()
        return h

    def _empty(self, p: QPainter, rect: QRectF, text: str = "no data") -> None:
        p.setPen(AXIS_COLOR)
        p.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)


class BarChart(_Chart):
    """Horizontal bars, one per label; NaN / None values show as "n/a".

    `set_data(labels, values, colors=None, maximum=1.0, value_format="{:.1%}")`.
    """

    def __init__(self, parent: QWidget | None = None, title: str = "") -> None:
        super().__init__(parent, title)
        self._labels: list[str] = []
        self._values: list[float | None] = []
        self._colors: list[QColor] = []
        self._maximum = 1.0
        self._fmt = "{:.1%}"

    def set_data(self, labels: Sequence[str], values: Sequence[float | None],
                 colors: Sequence | None = None, maximum: float | None = 1.0,
                 value_format: str = "{:.1%}") -> None:
        if len(labels) != len(values):
            raise ValueError(f"{len(labels)} labels but {len(values)} values")
        self._labels = [str(s) for s in labels]
        self._values = [float(v) if _finite(v) else None for v in values]
        if colors is None:
            self._colors = [QColor(SERIES_COLORS[0])] * len(labels)
        else:
            self._colors = [QColor(*c) if isinstance(c, (tuple, list)) else QColor(c) for c in colors]
        finite = [v for v in self._values if v is not None]
        self._maximum = maximum if maximum is not None else (max(finite) if finite else 1.0) or 1.0
        self._fmt = value_format
        self.update()

    def labels(self) -> list[str]:
        return list(self._labels)

    def values(self) -> list[float | None]:
        return list(self._values)

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(480, max(200, 22 * len(self._labels) + 60))

    def hover_text(self, pos: QPointF) -> str | None:
        plot = self._hits.get("plot")
        if plot is None or not plot.top() <= pos.y() < plot.bottom():
            return None
        i = int((pos.y() - plot.top()) // self._hits["row_h"])
        if not 0 <= i < len(self._labels):
            return None
        v = self._values[i]
        return f"{self._labels[i]}: " + ("n/a" if v is None else self._fmt.format(v))

    def draw(self, p: QPainter, rect: QRectF) -> None:
        super().draw(p, rect)
        top = rect.top() + self._draw_title(p, rect)
        if not self._labels:
            self._empty(p, rect.adjusted(0, top, 0, 0))
            return
        fm = QFontMetrics(p.font())
        label_w = min(rect.width() * 0.4, max(fm.horizontalAdvance(s) for s in self._labels) + 12)
        value_w = fm.horizontalAdvance(self._fmt.format(0.888) if "%" in self._fmt else "0.8888") + 14
        axis_h = fm.height() + 8
        plot = QRectF(rect.left() + label_w, top + 4, rect.width() - label_w - value_w - 8, rect.bottom() - top - axis_h - 8)
        if plot.width() < 20 or plot.height() < 10:
            return
        n = len(self._labels)
        row_h = plot.height() / n
        self._hits = {"plot": plot, "row_h": row_h}
        bar_h = max(1.0, min(row_h * 0.72, 28))
        # grid and axis ticks
        step = _nice_step(self._maximum, 5)
        p.setPen(QPen(GRID_COLOR, 1))
        t = 0.0
        while t <= self._maximum + 1e-9:
            x = plot.left() + plot.width() * t / self._maximum
            p.setPen(QPen(GRID_COLOR, 1))
            p.drawLine(QPointF(x, plot.top()), QPointF(x, plot.bottom()))
            p.setPen(AXIS_COLOR)
            text = self._fmt.format(t).replace(".0%", "%") if "%" in self._fmt else _fmt_tick(t, step)
            p.drawText(QRectF(x - 40, plot.bottom() + 2, 80, axis_h), Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop, text)
            t += step
        for i, (label, v) in enumerate(zip(self._labels, self._values)):
            y = plot.top() + i * row_h
            p.setPen(TEXT_COLOR)
            p.drawText(QRectF(rect.left() + 2, y, label_w - 8, row_h),
                       Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, fm.elidedText(label, Qt.TextElideMode.ElideRight, int(label_w - 8)))
            if v is None:
                p.setPen(AXIS_COLOR)
                p.drawText(QRectF(plot.left() + 4, y, 80, row_h), Qt.AlignmentFlag.AlignVCenter, "n/a")
                continue
            w = plot.width() * max(0.0, min(v, self._maximum)) / self._maximum
            bar = QRectF(plot.left(), y + (row_h - bar_h) / 2, w, bar_h)
            color = self._colors[i]
            p.fillRect(bar, color)
            p.setPen(QPen(color.darker(140), 1))
            p.drawRect(bar)
            p.setPen(TEXT_COLOR)
            p.drawText(QRectF(bar.right() + 4, y, value_w + 40, row_h), Qt.AlignmentFlag.AlignVCenter, self._fmt.format(v))
        p.setPen(QPen(AXIS_COLOR, 1))
        p.drawLine(QPointF(plot.left(), plot.top()), QPointF(plot.left(), plot.bottom()))


def heat_color(t: float) -> QColor:
    """White (0) through light blue to dark blue (1)."""
    t = 0.0 if not _finite(t) else max(0.0, min(1.0, t))
    stops = ((0.0, (255, 255, 255)), (0.25, (198, 219, 239)), (0.6, (66, 146, 198)), (1.0, (8, 48, 107)))
    for (t0, c0), (t1, c1) in zip(stops, stops[1:]):
        if t <= t1:
            u = (t - t0) / (t1 - t0)
            return QColor(*(round(a + (b - a) * u) for a, b in zip(c0, c1)))
    return QColor(*stops[-1][1])


class HeatmapChart(_Chart):
    """A matrix as coloured cells with row names (left) and column names (below).

    `set_matrix(matrix, row_labels, col_labels=None, normalize="row",
    row_title="ground truth", col_title="prediction")`. With normalize="row"
    each row is divided by its sum (a confusion matrix's per-class recall);
    cells show the value in percent when there is room.
    """

    def __init__(self, parent: QWidget | None = None, title: str = "") -> None:
        super().__init__(parent, title)
        self._values: list[list[float]] = []
        self._rows: list[str] = []
        self._cols: list[str] = []
        self._row_title = "ground truth"
        self._col_title = "prediction"

    def set_matrix(self, matrix, row_labels: Sequence[str], col_labels: Sequence[str] | None = None,
                   normalize: str | None = "row", row_title: str = "ground truth",
                   col_title: str = "prediction") -> None:
        rows = [[float(v) for v in r] for r in matrix]
        col_labels = list(row_labels if col_labels is None else col_labels)
        if len(rows) != len(row_labels) or any(len(r) != len(col_labels) for r in rows):
            raise ValueError("matrix shape does not match the row / column labels")
        if normalize == "row":
            rows = [[v / s if s > 0 else math.nan for v in r] for r, s in ((r, sum(r)) for r in rows)]
        elif normalize is not None:
            raise ValueError(f"normalize must be 'row' or None, not {normalize!r}")
        self._values = rows
        self._rows = [str(s) for s in row_labels]
        self._cols = [str(s) for s in col_labels]
        self._row_title, self._col_title = row_title, col_title
        self.update()

    def values(self) -> list[list[float]]:
        return [list(r) for r in self._values]

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(520, 480)

    def hover_text(self, pos: QPointF) -> str | None:
        grid = self._hits.get("grid")
        if grid is None or not grid.contains(pos):
            return None
        i, j = (int((c - o) // self._hits["cell"]) for c, o in ((pos.y(), grid.top()), (pos.x(), grid.left())))
        if not (0 <= i < len(self._rows) and 0 <= j < len(self._cols)):
            return None
        v = self._values[i][j]
        return (f"{self._row_title} {self._rows[i]} → {self._col_title} {self._cols[j]}: "
                + (f"{v:.1%}" if _finite(v) else "n/a"))

    def draw(self, p: QPainter, rect: QRectF) -> None:
        super().draw(p, rect)
        top = rect.top() + self._draw_title(p, rect)
        if not self._values:
            self._empty(p, rect.adjusted(0, top, 0, 0))
            return
        fm = QFontMetrics(p.font())
        n_r, n_c = len(self._rows), len(self._cols)
        title_h = fm.height() + 4
        row_w = max(fm.horizontalAdvance(s) for s in self._rows) + 10
        col_h = max(fm.horizontalAdvance(s) for s in self._cols) + 10
        avail_w = rect.width() - row_w - title_h - 16
        avail_h = rect.bottom() - top - col_h - title_h - 12
        cell = max(2.0, min(avail_w / n_c, avail_h / n_r))
        grid = QRectF(rect.left() + title_h + row_w + 4, top + 2, cell * n_c, cell * n_r)
        # centre the grid horizontally when there is spare room
        grid.moveLeft(grid.left() + max(0.0, (avail_w - grid.width()) / 2))
        self._hits = {"grid": grid, "cell": cell}
        small = QFont(p.font())
        small.setPointSizeF(max(5.0, min(p.font().pointSizeF(), cell / 3.2)))
        small_fm = QFontMetrics(small)
        show_numbers = small_fm.horizontalAdvance("100") + 2 <= cell and small_fm.height() <= cell
        for i, row in enumerate(self._values):
            for j, v in enumerate(row):
                r = QRectF(grid.left() + j * cell, grid.top() + i * cell, cell, cell)
                p.fillRect(r, heat_color(v) if _finite(v) else QColor("#f4f4f4"))
                if show_numbers and _finite(v):
                    p.save()
                    p.setFont(small)
                    p.setPen(QColor("white") if v > 0.5 else TEXT_COLOR)
                    p.drawText(r, Qt.AlignmentFlag.AlignCenter, f"{100 * v:.0f}")
                    p.restore()
        p.setPen(QPen(AXIS_COLOR, 1))
        p.drawRect(grid)
        # diagonal outline helps reading a confusion matrix
        if n_r == n_c:
            p.setPen(QPen(QColor("#d62728"), 1))
            for i in range(n_r):
                p.drawRect(QRectF(grid.left() + i * cell, grid.top() + i * cell, cell, cell))
        p.setPen(TEXT_COLOR)
        for i, name in enumerate(self._rows):
            p.drawText(QRectF(grid.left() - row_w - 4, grid.top() + i * cell, row_w, cell),
                       Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, name)
        for j, name in enumerate(self._cols):
            p.save()
            p.translate(grid.left() + (j + 0.5) * cell, grid.bottom() + 4)
            p.rotate(-90)
            # after rotating, the text runs upwards from the grid's bottom edge
            p.drawText(QRectF(-col_h, -cell / 2, col_h - 2, cell), Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, name)
            p.restore()
        self._draw_axis_titles(p, grid, row_w, col_h, title_h)

    def _draw_axis_titles(self, p: QPainter, grid: QRectF, row_w: float, col_h: float, title_h: float) -> None:
        axis_font = QFont(p.font())
        axis_font.setItalic(True)
        p.save()
        p.setFont(axis_font)
        p.setPen(AXIS_COLOR)
        p.drawText(QRectF(grid.left(), grid.bottom() + col_h + 2, grid.width(), title_h),
                   Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop, self._col_title)
        p.translate(grid.left() - row_w - 6 - title_h / 2, grid.center().y())
        p.rotate(-90)
        p.drawText(QRectF(-grid.height() / 2, -title_h / 2, grid.height(), title_h), Qt.AlignmentFlag.AlignCenter, self._row_title)
        p.restore()

