"""A line chart of series over a shared x axis, with a left and an optional right y axis (training curves).

Drawn with QPainter on the `_Chart` base of `charts.py`, so it saves as PNG the
same way and shows hovered values the same way; `set_series(name, xs, ys,
axis="left"|"right")` adds or replaces a series.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFontMetrics, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QWidget

from .charts import AXIS_COLOR, GRID_COLOR, SERIES_COLORS, TEXT_COLOR, _Chart, _fmt_tick, _nice_step


@dataclass
class _PlotMap:
    """Data coordinates to widget coordinates inside a line chart's plot rectangle."""

    plot: QRectF
    x0: float
    x1: float
    axes: dict[str, tuple[float, float, float]]
    label_h: int

    def px(self, x: float) -> float:
        return self.plot.left() + (x - self.x0) / (self.x1 - self.x0) * self.plot.width()

    def py(self, y: float, side: str) -> float:
        lo, hi, _ = self.axes[side]
        return self.plot.bottom() - (y - lo) / (hi - lo) * self.plot.height()


class LineChart(_Chart):
    """Named series of (x, y) points with axes, grid and a legend.

    `set_series(name, xs, ys, color=None, axis="left")` adds or replaces a
    series; `axis="right"` plots it against a second y axis (e.g. loss on the
    left, mIoU on the right). `clear()` removes everything.
    """

    def __init__(self, parent: QWidget | None = None, title: str = "", x_label: str = "",
                 y_label: str = "", y2_label: str = "") -> None:
        super().__init__(parent, title)
        self._series: dict[str, dict] = {}
        self.x_label, self.y_label, self.y2_label = x_label, y_label, y2_label

    def set_series(self, name: str, xs: Sequence[float], ys: Sequence[float], color=None,
                   axis: str = "left") -> None:
        if len(xs) != len(ys):
            raise ValueError(f"series {name!r}: {len(xs)} x values but {len(ys)} y values")
        if axis not in ("left", "right"):
            raise ValueError(f"axis must be 'left' or 'right', not {axis!r}")
        old = self._series.get(name)
        if color is None:
            color = old["color"] if old else QColor(SERIES_COLORS[len(self._series) % len(SERIES_COLORS)])
        self._series[name] = {"xs": [float(x) for x in xs], "ys": [float(y) for y in ys],
                              "color": QColor(*color) if isinstance(color, (tuple, list)) else QColor(color),
                              "axis": axis}
        self.update()

    def series(self, name: str) -> tuple[list[float], list[float]]:
        s = self._series[name]
        return list(s["xs"]), list(s["ys"])

    def series_names(self) -> list[str]:
        return list(self._series)

    def clear(self) -> None:
        self._series.clear()
        self.update()

    @staticmethod
    def _range(values: list[float]) -> tuple[float, float]:
        vals = [v for v in values if math.isfinite(v)]
        if not vals:
            return 0.0, 1.0
        lo, hi = min(vals), max(vals)
        if hi == lo:
            pad = abs(hi) * 0.1 or 1.0
            return lo - pad, hi + pad
        return lo, hi

    def draw(self, p: QPainter, rect: QRectF) -> None:
        super().draw(p, rect)
        top = rect.top() + self._draw_title(p, rect)
        if not any(s["xs"] for s in self._series.values()):
            self._empty(p, rect.adjusted(0, top, 0, 0), "no data yet")
            return
        fm = QFontMetrics(p.font())
        x0, x1 = self._range([x for s in self._series.values() for x in s["xs"]])
        axes = self._axes()
        label_h = fm.height()
        legend_h = label_h + 6
        tick_w = fm.horizontalAdvance("-0.0000") + 8
        left_w = (tick_w if "left" in axes else 10) + (label_h + 4 if self.y_label else 0)
        right_w = (tick_w if "right" in axes else 14) + (label_h + 4 if self.y2_label and "right" in axes else 0)
        plot = QRectF(rect.left() + left_w, top + legend_h + 4, rect.width() - left_w - right_w,
                      rect.bottom() - top - legend_h - 4 - 2 * label_h - 14 - (label_h if self.x_label else 0))
        if plot.width() < 20 or plot.height() < 20:
            return
        m = _PlotMap(plot, x0, x1, axes, label_h)
        self._hits = {"map": m}
        self._draw_ticks(p, m)
        self._draw_axis_titles(p, m, rect)
        self._draw_series(p, m)
        self._draw_legend(p, fm, plot.left(), top + 2, label_h, "left" in axes)

    def hover_text(self, pos: QPointF) -> str | None:
        """The point nearest to `pos` (within 12 px): its series, x and y."""
        m = self._hits.get("map")
        if m is None:
            return None
        best = None
        for name, s in self._series.items():
            if s["axis"] not in m.axes:
                continue
            for x, y in zip(s["xs"], s["ys"]):
                if math.isfinite(x) and math.isfinite(y):
                    d = math.hypot(m.px(x) - pos.x(), m.py(y, s["axis"]) - pos.y())
                    if d <= 12 and (best is None or d < best[0]):
                        best = (d, name, x, y)
        if best is None:
            return None
        _, name, x, y = best
        return f"{name}: {y:.4g} at {self.x_label or 'x'} {x:.4g}"

    def _axes(self) -> dict[str, tuple[float, float, float]]:
        """side -> (low, high, tick step) of the y axes that have series."""
        axes = {}
        for side in ("left", "right"):
            ys = [y for s in self._series.values() if s["axis"] == side for y in s["ys"]]
            if ys:
                lo, hi = self._range(ys)
                step = _nice_step(hi - lo)
                axes[side] = (math.floor(lo / step) * step, math.ceil(hi / step) * step, step)
        return axes

    @staticmethod
    def _draw_ticks(p: QPainter, m: _PlotMap) -> None:
        plot, label_h = m.plot, m.label_h
        xstep = _nice_step(m.x1 - m.x0, max(2, int(plot.width() // 90)))
        t = math.ceil(m.x0 / xstep) * xstep
        while t <= m.x1 + 1e-9 * max(1.0, abs(m.x1)):
            x = m.px(t)
            p.setPen(QPen(GRID_COLOR, 1))
            p.drawLine(QPointF(x, plot.top()), QPointF(x, plot.bottom()))
            p.setPen(AXIS_COLOR)
            p.drawText(QRectF(x - 40, plot.bottom() + 3, 80, label_h), Qt.AlignmentFlag.AlignHCenter, _fmt_tick(t, xstep))
            t += xstep
        for side, (lo, hi, step) in m.axes.items():
            t = lo
            while t <= hi + 1e-9 * max(1.0, abs(hi)):
                y = m.py(t, side)
                if side == "left" or "left" not in m.axes:
                    p.setPen(QPen(GRID_COLOR, 1))
                    p.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
                p.setPen(AXIS_COLOR)
                if side == "left":
                    p.drawText(QRectF(plot.left() - 200 - 4, y - label_h / 2, 200, label_h),
                               Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, _fmt_tick(t, step))
                else:
                    p.drawText(QRectF(plot.right() + 4, y - label_h / 2, 200, label_h),
                               Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, _fmt_tick(t, step))
                t += step
        p.setPen(QPen(AXIS_COLOR, 1))
        p.drawRect(plot)

    def _draw_axis_titles(self, p: QPainter, m: _PlotMap, rect: QRectF) -> None:
        plot, label_h = m.plot, m.label_h
        p.setPen(AXIS_COLOR)
        if self.x_label:
            p.drawText(QRectF(plot.left(), plot.bottom() + label_h + 6, plot.width(), label_h),
                       Qt.AlignmentFlag.AlignHCenter, self.x_label)
        for side, text, xpos in (("left", self.y_label, rect.left() + 2),
                                 ("right", self.y2_label, rect.right() - label_h - 2)):
            if text and side in m.axes:
                p.save()
                p.translate(xpos + label_h / 2, plot.center().y())
                p.rotate(-90)
                p.drawText(QRectF(-plot.height() / 2, -label_h / 2, plot.height(), label_h),
                           Qt.AlignmentFlag.AlignCenter, text)
                p.restore()

    def _draw_series(self, p: QPainter, m: _PlotMap) -> None:
        p.save()
        p.setClipRect(m.plot.adjusted(-2, -2, 2, 2))
        for s in self._series.values():
            pts = [(m.px(x), m.py(y, s["axis"])) for x, y in zip(s["xs"], s["ys"])
                   if math.isfinite(x) and math.isfinite(y)]
            if not pts:
                continue
            p.setPen(QPen(s["color"], 2))
            if len(pts) > 1:
                path = QPainterPath(QPointF(*pts[0]))
                for q in pts[1:]:
                    path.lineTo(QPointF(*q))
                p.drawPath(path)
            if len(pts) <= 60:
                p.setBrush(s["color"])
                for q in pts:
                    p.drawEllipse(QPointF(*q), 2.5, 2.5)
                p.setBrush(Qt.BrushStyle.NoBrush)
        p.restore()

    def _draw_legend(self, p: QPainter, fm: QFontMetrics, x: float, y: float, label_h: int, two_axes: bool) -> None:
        for name, s in self._series.items():
            text = name + (" (right axis)" if s["axis"] == "right" and two_axes else "")
            p.fillRect(QRectF(x, y + label_h / 2 - 2, 16, 4), s["color"])
            p.setPen(TEXT_COLOR)
            w = fm.horizontalAdvance(text)
            p.drawText(QRectF(x + 20, y, w + 4, label_h), Qt.AlignmentFlag.AlignVCenter, text)
            x += 20 + w + 18
