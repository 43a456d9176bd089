"""The evaluation and training charts, on pyqtgraph: per-class bars, a confusion heatmap, line plots.

pyqtgraph (pure Python over the Qt binding and numpy) gives what the former
QPainter charts did not: hover a bar, a cell or a point for its value, turn the
wheel to zoom, drag to pan, right-click → View All. It loads with the dialogs
that show charts, never at startup (tests/gui/test_startup_imports.py).

Each chart keeps its data and builds its plot from it (`_populate`), so
`save_png` lays out an offscreen copy at the export size (900x560 by default)
instead of scaling the picture on screen.

    BarChart      horizontal bars, one per class (e.g. per-class IoU)
    HeatmapChart  a square matrix with row / column names (e.g. confusion)
    LineChart     (line_chart.py) named series of (x, y) points, e.g. live loss and mIoU
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QBuffer, QByteArray, QEventLoop, QIODevice, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QCursor, QImage, QPen
from PySide6.QtWidgets import QApplication, QGraphicsRectItem, QSizePolicy, QToolTip, QWidget

from segstudio.core.atomic import atomic_write_bytes

SERIES_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf")
TEXT_COLOR = QColor("#222222")


def _finite(v) -> bool:
    return v is not None and isinstance(v, (int, float)) and math.isfinite(v)


def _color(c) -> QColor:
    return QColor(*c) if isinstance(c, (tuple, list)) else QColor(c)


class _Chart(pg.PlotWidget):
    """Common plumbing: white background, title, hover tool tips, `save_png`."""

    default_export_size = QSize(900, 560)

    def __init__(self, parent: QWidget | None = None, title: str = "", **kw) -> None:
        super().__init__(parent, background="w")
        self._title, self._kw = title, kw
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(200, 150)
        self.scene().sigMouseMoved.connect(self._hover)
        self._populate()

    def title(self) -> str:
        return self._title

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt API)
        return QSize(480, 320)

    def _populate(self) -> None:
        """Rebuild the plot from the chart's data."""
        plot = self.getPlotItem()
        plot.clear()
        plot.setTitle(f"<b>{self._title}</b>" if self._title else None, color=TEXT_COLOR)
        for side in ("left", "bottom", "right"):
            plot.getAxis(side).setTextPen(TEXT_COLOR)
        self._draw(plot)

    def _draw(self, plot: pg.PlotItem) -> None:
        raise NotImplementedError

    def hover_text(self, x: float, y: float) -> str | None:
        """The tool tip at data coordinates (x, y), or None."""
        return None

    def _hover(self, scene_pos) -> None:
        vb = self.getPlotItem().getViewBox()
        text = None
        if vb.sceneBoundingRect().contains(scene_pos):
            p = vb.mapSceneToView(scene_pos)
            text = self.hover_text(p.x(), p.y())
        if text:
            QToolTip.showText(QCursor.pos(), text, self)
        else:
            QToolTip.hideText()

    def render_image(self, size: QSize | None = None) -> QImage:
        """The chart laid out off screen at `size` (default: widget size, at least 900x560), as an RGB image."""
        size = size or self.size().expandedTo(self.default_export_size)
        copy = type(self)(title=self._title, **self._kw)
        copy.__dict__.update({k: v for k, v in self.__dict__.items() if k.startswith("_d_")})
        copy.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen)
        copy.resize(size)
        copy.show()
        copy._populate()
        for _ in range(3):  # the axes size themselves to their tick labels over a few layout passes
            QApplication.sendPostedEvents()
            QApplication.processEvents(QEventLoop.ProcessEventsFlag.ExcludeUserInputEvents)
        image = copy.grab().toImage().convertToFormat(QImage.Format.Format_RGB32)
        copy.close()
        copy.deleteLater()
        return image

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

    def _empty(self, plot: pg.PlotItem, text: str = "no data") -> None:
        plot.hideAxis("left")
        plot.hideAxis("bottom")
        plot.addItem(pg.TextItem(text, color="#555555", anchor=(0.5, 0.5)))


class BarChart(_Chart):
    """Horizontal bars, one per label; NaN / None values show as "n/a".

    `set_data(labels, values, colors=None, maximum=1.0, value_format="{:.1%}")`.
    """

    def __init__(self, parent: QWidget | None = None, title: str = "") -> None:
        self._d_labels: list[str] = []
        self._d_values: list[float | None] = []
        self._d_colors: list[QColor] = []
        self._d_maximum, self._d_fmt = 1.0, "{:.1%}"
        super().__init__(parent, title)

    def set_data(self, labels: Sequence[str], values: Sequence[float | None],
                 colors: Sequence | None = None, maximum: float | None = 1.0,
                 value_format: str = "{:.1%}") -> None:
        if len(labels) != len(values):
            raise ValueError(f"{len(labels)} labels but {len(values)} values")
        self._d_labels = [str(s) for s in labels]
        self._d_values = [float(v) if _finite(v) else None for v in values]
        self._d_colors = [QColor(SERIES_COLORS[0])] * len(labels) if colors is None else [_color(c) for c in colors]
        finite = [v for v in self._d_values if v is not None]
        self._d_maximum = maximum if maximum is not None else (max(finite) if finite else 1.0) or 1.0
        self._d_fmt = value_format
        self._populate()

    def labels(self) -> list[str]:
        return list(self._d_labels)

    def values(self) -> list[float | None]:
        return list(self._d_values)

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(480, max(200, 22 * len(self._d_labels) + 60))

    def _draw(self, plot: pg.PlotItem) -> None:
        n, top = len(self._d_labels), self._d_maximum
        if not n:
            return self._empty(plot)
        for axis in ("left", "bottom"):
            plot.showAxis(axis)
        shown = [i for i, v in enumerate(self._d_values) if v is not None]
        widths = [max(0.0, min(self._d_values[i], top)) for i in shown]
        plot.addItem(pg.BarGraphItem(x0=0, y=shown, height=0.72, width=widths,
                                     brushes=[self._d_colors[i] for i in shown],
                                     pens=[QPen(self._d_colors[i].darker(140), 0) for i in shown]))
        for i, v in enumerate(self._d_values):
            text = pg.TextItem("n/a" if v is None else self._d_fmt.format(v), color=TEXT_COLOR, anchor=(0, 0.5))
            text.setPos(0 if v is None else min(v, top), i)
            plot.addItem(text)
        plot.getAxis("left").setTicks([[(i, s) for i, s in enumerate(self._d_labels)]])
        if "%" in self._d_fmt:
            plot.getAxis("bottom").setTicks([[(t, f"{t:.0%}") for t in np.linspace(0, top, 6)]])
        plot.invertY(True)
        plot.showGrid(x=True, alpha=0.25)
        plot.setXRange(0, top * 1.15, padding=0)
        plot.setYRange(-0.5, n - 0.5, padding=0)
        plot.getViewBox().setLimits(xMin=-0.05 * top, xMax=1.3 * top, yMin=-1, yMax=n)

    def hover_text(self, x: float, y: float) -> str | None:
        i = round(y)
        if not 0 <= i < len(self._d_labels):
            return None
        v = self._d_values[i]
        return f"{self._d_labels[i]}: " + ("n/a" if v is None else self._d_fmt.format(v))


def heat_color(t: float) -> QColor:
    """White (0) through light blue to dark blue (1)."""
    t = 0.0 if not _finite(t) else max(0.0, min(1.0, t))
    stops = ((0.0, (255, 255, 255)), (0.25, (198, 219, 239)), (0.6, (66, 146, 198)), (1.0, (8, 48, 107)))
    for (t0, c0), (t1, c1) in zip(stops, stops[1:]):
        if t <= t1:
            u = (t - t0) / (t1 - t0)
            return QColor(*(round(a + (b - a) * u) for a, b in zip(c0, c1)))
    return QColor(*stops[-1][1])


class _VerticalTicks(pg.AxisItem):
    """A bottom axis whose tick labels run upwards (class names under a confusion matrix)."""

    def __init__(self) -> None:
        super().__init__("bottom")
        self._names: list[str] = []

    def set_names(self, names: list[str]) -> None:
        self._names = names
        self.setTicks([[(j + 0.5, "") for j in range(len(names))]])
        fm = self.fontMetrics() if hasattr(self, "fontMetrics") else None
        width = max((fm.horizontalAdvance(s) for s in names), default=0) if fm else 8 * max(map(len, names), default=0)
        self.setHeight(width + 40)

    def drawPicture(self, p, axisSpec, tickSpecs, textSpecs) -> None:  # noqa: N802 (pyqtgraph API)
        super().drawPicture(p, axisSpec, tickSpecs, [])
        p.setPen(TEXT_COLOR)
        for (_, start, _end), name in zip(tickSpecs, self._names):
            p.save()
            p.translate(start.x(), start.y() + 4)
            p.rotate(-90)
            p.drawText(QRectF(-400, -10, 400, 20), Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, name)
            p.restore()


class HeatmapChart(_Chart):
    """A matrix as coloured cells with row names (left) and column names (below).

    `set_matrix(matrix, row_labels, col_labels=None, normalize="row",
    row_title="ground truth", col_title="prediction")`. With normalize="row"
    each row is divided by its sum (a confusion matrix's per-class recall);
    cells show the value in percent when there is room.
    """

    def __init__(self, parent: QWidget | None = None, title: str = "") -> None:
        self._d_values: list[list[float]] = []
        self._d_rows: list[str] = []
        self._d_cols: list[str] = []
        self._d_titles = ("ground truth", "prediction")
        self._numbers: list[pg.TextItem] = []
        super().__init__(parent, title)
        self.setAxisItems({"bottom": _VerticalTicks()})
        self.getPlotItem().getViewBox().sigTransformChanged.connect(self._fit_numbers)

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
        self._d_values = rows
        self._d_rows = [str(s) for s in row_labels]
        self._d_cols = [str(s) for s in col_labels]
        self._d_titles = (row_title, col_title)
        self._populate()

    def values(self) -> list[list[float]]:
        return [list(r) for r in self._d_values]

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(520, 480)

    def _draw(self, plot: pg.PlotItem) -> None:
        self._numbers = []
        if not self._d_values:
            return self._empty(plot)
        for axis in ("left", "bottom"):
            plot.showAxis(axis)
        rgb = np.array([[heat_color(v).getRgb()[:3] if _finite(v) else (244, 244, 244) for v in r]
                        for r in self._d_values], np.uint8)
        plot.addItem(pg.ImageItem(rgb, axisOrder="row-major", levels=(0, 255)))
        n_r, n_c = rgb.shape[:2]
        for i, row in enumerate(self._d_values):
            for j, v in enumerate(row):
                if _finite(v):
                    text = pg.TextItem(f"{100 * v:.0f}", color="white" if v > 0.5 else TEXT_COLOR, anchor=(0.5, 0.5))
                    text.setPos(j + 0.5, i + 0.5)
                    plot.addItem(text)
                    self._numbers.append(text)
        for i in range(min(n_r, n_c) if n_r == n_c else 0):  # the diagonal, outlined
            cell = QGraphicsRectItem(i, i, 1, 1)
            cell.setPen(pg.mkPen("#d62728", width=1))
            plot.addItem(cell)
        plot.getAxis("left").setTicks([[(i + 0.5, s) for i, s in enumerate(self._d_rows)]])
        plot.getAxis("bottom").set_names(self._d_cols)
        plot.setLabel("left", f"<i>{self._d_titles[0]}</i>")
        plot.setLabel("bottom", f"<i>{self._d_titles[1]}</i>")
        plot.invertY(True)
        plot.setRange(xRange=(0, n_c), yRange=(0, n_r), padding=0)
        plot.getViewBox().setLimits(xMin=-1, xMax=n_c + 1, yMin=-1, yMax=n_r + 1)

    def _fit_numbers(self) -> None:
        """Cell numbers show only when a cell is wide enough on screen to hold them."""
        if self._numbers:
            fits = 1 / max(1e-9, self.getPlotItem().getViewBox().viewPixelSize()[0]) >= 22
            for t in self._numbers:
                t.setVisible(fits)

    def hover_text(self, x: float, y: float) -> str | None:
        i, j = math.floor(y), math.floor(x)
        if not (0 <= i < len(self._d_rows) and 0 <= j < len(self._d_cols)):
            return None
        v = self._d_values[i][j]
        share = f"{v:.1%}" if _finite(v) else "n/a"
        return f"{self._d_titles[0]} {self._d_rows[i]} → {self._d_titles[1]} {self._d_cols[j]}: {share}"
