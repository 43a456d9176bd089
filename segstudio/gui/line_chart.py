"""A line chart of series over a shared x axis, with a left and an optional right y axis (training curves).

On the pyqtgraph `_Chart` base of `charts.py` (hover for values, wheel zoom,
PNG export); `set_series(name, xs, ys, axis="left"|"right")` adds or replaces
a series. The right axis is a second view box sharing the x axis.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QWidget

from .charts import SERIES_COLORS, TEXT_COLOR, _Chart, _color


class LineChart(_Chart):
    """Named series of (x, y) points with axes, grid and a legend.

    `set_series(name, xs, ys, color=None, axis="left")` adds or replaces a
    series; `axis="right"` plots it against a second y axis (e.g. loss on the
    left, mIoU on the right). `clear()` removes everything.
    """

    def __init__(self, parent: QWidget | None = None, title: str = "", x_label: str = "",
                 y_label: str = "", y2_label: str = "") -> None:
        self._d_series: dict[str, dict] = {}
        self.x_label, self.y_label, self.y2_label = x_label, y_label, y2_label
        self._right = pg.ViewBox()
        super().__init__(parent, title, x_label=x_label, y_label=y_label, y2_label=y2_label)
        del self.clear  # PlotWidget binds PlotItem.clear over the method below
        plot = self.getPlotItem()
        plot.scene().addItem(self._right)
        self._right.setXLink(plot)
        plot.getViewBox().sigResized.connect(lambda: self._right.setGeometry(plot.getViewBox().sceneBoundingRect()))

    def set_series(self, name: str, xs: Sequence[float], ys: Sequence[float], color=None,
                   axis: str = "left") -> None:
        if len(xs) != len(ys):
            raise ValueError(f"series {name!r}: {len(xs)} x values but {len(ys)} y values")
        if axis not in ("left", "right"):
            raise ValueError(f"axis must be 'left' or 'right', not {axis!r}")
        old = self._d_series.get(name)
        if color is None:
            color = old["color"] if old else QColor(SERIES_COLORS[len(self._d_series) % len(SERIES_COLORS)])
        self._d_series[name] = {"xs": [float(x) for x in xs], "ys": [float(y) for y in ys], "color": _color(color),
                                "axis": axis}
        item = getattr(self, "_items", {}).get(name)
        if old is not None and item is not None and old["axis"] == axis and (len(xs) > 60) == (len(old["xs"]) > 60):
            item.setData(self._d_series[name]["xs"], self._d_series[name]["ys"])  # live updates: no rebuild
        else:
            self._populate()

    def series(self, name: str) -> tuple[list[float], list[float]]:
        s = self._d_series[name]
        return list(s["xs"]), list(s["ys"])

    def series_names(self) -> list[str]:
        return list(self._d_series)

    def clear(self) -> None:
        self._d_series.clear()
        self._populate()

    def _draw(self, plot: pg.PlotItem) -> None:
        self._items: dict[str, pg.PlotDataItem] = {}
        right = getattr(self, "_right", None)
        if right is not None:
            right.clear()
        if plot.legend is not None:
            plot.legend.scene().removeItem(plot.legend)
            plot.legend = None
        if not any(s["xs"] for s in self._d_series.values()):
            return self._empty(plot, "no data yet")
        for axis in ("left", "bottom"):
            plot.showAxis(axis)
        plot.showGrid(x=True, y=True, alpha=0.2)
        plot.setLabel("bottom", self.x_label)
        plot.setLabel("left", self.y_label)
        plot.getAxis("left").enableAutoSIPrefix(False)
        legend = plot.addLegend(offset=(10, 5), labelTextColor=TEXT_COLOR, colCount=len(self._d_series))
        two_axes = {s["axis"] for s in self._d_series.values()} == {"left", "right"}
        for name, s in self._d_series.items():
            item = pg.PlotDataItem(s["xs"], s["ys"], pen=pg.mkPen(s["color"], width=2),
                                   symbol="o" if len(s["xs"]) <= 60 else None, symbolSize=7,
                                   symbolBrush=s["color"], symbolPen=s["color"])
            on_right = s["axis"] == "right" and right is not None
            (right if on_right else plot).addItem(item)
            legend.addItem(item, name + (" (right axis)" if s["axis"] == "right" and two_axes else ""))
            self._items[name] = item
        if right is not None and any(s["axis"] == "right" for s in self._d_series.values()):
            plot.showAxis("right")
            plot.getAxis("right").linkToView(right)
            plot.setLabel("right", self.y2_label)
            plot.getAxis("right").enableAutoSIPrefix(False)
            right.enableAutoRange()
        else:
            plot.hideAxis("right")

    def hover_text(self, x: float, y: float) -> str | None:
        """The value of each series at its point nearest to x."""
        parts = []
        for name, s in self._d_series.items():
            xs = np.asarray(s["xs"])
            if len(xs) and math.isfinite(x):
                k = int(np.abs(xs - x).argmin())
                parts.append(f"{name} {s['ys'][k]:.4g} at {self.x_label or 'x'} {xs[k]:.3g}")
        return "\n".join(parts) or None
