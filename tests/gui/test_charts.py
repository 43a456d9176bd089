"""QPainter charts: data in, pixels out, PNG files written, values shown on hover."""

import math

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QEvent, QPointF
from PySide6.QtGui import QHelpEvent
from PySide6.QtWidgets import QApplication, QToolTip

from segstudio.gui.charts import BarChart, HeatmapChart, heat_color
from segstudio.gui.line_chart import LineChart


def _pixels(chart, qtbot, tmp_path, name):
    path = chart.save_png(tmp_path / name)
    img = np.asarray(Image.open(path).convert("RGB"))
    return img


def test_bar_chart_draws_bars_in_class_colours(qtbot, tmp_path):
    chart = BarChart(title="IoU")
    qtbot.addWidget(chart)
    chart.set_data(["a", "b", "c"], [0.9, float("nan"), 0.25], colors=[(255, 0, 0), (0, 255, 0), (0, 0, 255)])
    assert chart.values() == [0.9, None, 0.25]
    img = _pixels(chart, qtbot, tmp_path, "bar.png")
    assert img.shape[:2] == (560, 900)
    red = np.all(img == (255, 0, 0), axis=2).sum()
    blue = np.all(img == (0, 0, 255), axis=2).sum()
    green = np.all(img == (0, 255, 0), axis=2).sum()
    assert red > 0 and blue > 0 and green == 0  # NaN draws no bar
    assert red / blue == pytest.approx(0.9 / 0.25, rel=0.1)  # bar length is proportional


def test_bar_chart_rejects_mismatched_lengths(qtbot):
    chart = BarChart()
    qtbot.addWidget(chart)
    with pytest.raises(ValueError):
        chart.set_data(["a"], [0.1, 0.2])


def test_heatmap_normalises_rows_and_colours_cells(qtbot, tmp_path):
    chart = HeatmapChart(title="confusion")
    qtbot.addWidget(chart)
    chart.set_matrix(np.array([[3, 1], [0, 0]]), ["x", "y"])
    v = chart.values()
    assert v[0] == [0.75, 0.25] and all(math.isnan(t) for t in v[1])
    img = _pixels(chart, qtbot, tmp_path, "heat.png")
    c75 = heat_color(0.75)
    assert np.all(img == (c75.red(), c75.green(), c75.blue()), axis=2).sum() > 100
    assert heat_color(0).getRgb()[:3] == (255, 255, 255)


def test_line_chart_series_and_clear(qtbot, tmp_path):
    chart = LineChart(title="loss", x_label="epoch", y_label="loss")
    qtbot.addWidget(chart)
    chart.set_series("loss", [0, 1, 2], [1.0, 0.5, 0.25], color=(255, 0, 0))
    chart.set_series("mIoU", [0, 2], [0.1, 0.3], color=(0, 0, 255), axis="right")
    assert chart.series_names() == ["loss", "mIoU"]
    assert chart.series("loss") == ([0.0, 1.0, 2.0], [1.0, 0.5, 0.25])
    img = _pixels(chart, qtbot, tmp_path, "line.png")
    assert np.all(img == (255, 0, 0), axis=2).sum() > 50
    assert np.all(img == (0, 0, 255), axis=2).sum() > 50
    chart.clear()
    assert chart.series_names() == []
    img = _pixels(chart, qtbot, tmp_path, "empty.png")
    assert np.all(img == (255, 0, 0), axis=2).sum() == 0
    with pytest.raises(ValueError):
        chart.set_series("bad", [1, 2], [1])


def _grabbed(widget) -> np.ndarray:
    """The widget's on-screen pixels (paintEvent, not save_png) as H x W x 3 RGB."""
    from PySide6.QtGui import QImage

    img = widget.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    a = np.frombuffer(img.constBits(), np.uint8, img.sizeInBytes()).reshape(img.height(), img.bytesPerLine())
    # a copy: the memoryview does not keep the QImage alive, and it is freed when this returns
    return a[:, :img.width() * 3].reshape(img.height(), img.width(), 3).copy()


def test_charts_paint_on_screen(qtbot):
    chart = LineChart()
    qtbot.addWidget(chart)
    chart.resize(300, 200)
    chart.show()
    qtbot.waitExposed(chart)
    before = np.all(_grabbed(chart) == (255, 0, 0), axis=2).sum()  # "no data yet": no red to speak of
    chart.set_series("s", [0, 1, 2], [0, 1, 0.5], color=(255, 0, 0))
    px = _grabbed(chart)
    assert px.shape[:2] == (200, 300)
    red = np.all(px == (255, 0, 0), axis=2)
    assert red.sum() > 100 + 50 * before  # the line and its markers, drawn by paintEvent
    ys, xs = np.nonzero(red[:, :150])
    # the first segment rises: its left end is lower on screen than its peak at x = 1
    assert ys[xs.argmin()] > ys.min()


def _shown(qtbot, chart, w=420, h=300):
    qtbot.addWidget(chart)
    chart.resize(w, h)
    chart.show()
    qtbot.waitExposed(chart)
    return _grabbed(chart)


def _first(px, rgb):
    """(x, y) of the middle pixel of colour rgb in a grabbed image."""
    ys, xs = np.nonzero(np.all(px == rgb, axis=2))
    assert len(xs), f"no pixel of colour {rgb}"
    k = len(xs) // 2
    return QPointF(float(xs[k]), float(ys[k]))


def test_hovering_a_bar_a_cell_or_a_point_shows_its_value(qtbot):
    bar = BarChart(title="IoU")
    bar.set_data(["Road", "Sky", "Car"], [0.9, None, 0.25], colors=[(255, 0, 0), (0, 255, 0), (0, 0, 255)])
    px = _shown(qtbot, bar)
    assert bar.hover_text(_first(px, (255, 0, 0))) == "Road: 90.0%"
    assert bar.hover_text(_first(px, (0, 0, 255))) == "Car: 25.0%"
    road, car = _first(px, (255, 0, 0)), _first(px, (0, 0, 255))
    assert bar.hover_text(QPointF(road.x(), (road.y() + car.y()) / 2)) == "Sky: n/a"
    assert bar.hover_text(QPointF(road.x(), 2)) is None  # the title
    bar.render_image()  # an export at another size keeps the screen's geometry for hovering
    assert bar.hover_text(_first(px, (0, 0, 255))) == "Car: 25.0%"

    heat = HeatmapChart()
    heat.set_matrix(np.array([[3, 1], [1, 3]]), ["Road", "Car"])
    px = _shown(qtbot, heat)
    c75, c25 = heat_color(0.75), heat_color(0.25)
    assert heat.hover_text(_first(px, c75.getRgb()[:3])) in ("ground truth Road → prediction Road: 75.0%",
                                                              "ground truth Car → prediction Car: 75.0%")
    assert heat.hover_text(_first(px, c25.getRgb()[:3])).endswith(": 25.0%")
    assert heat.hover_text(QPointF(1, 1)) is None

    line = LineChart(x_label="epoch")
    line.set_series("loss", [1, 2, 3], [0.9, 0.5, 0.4], color=(255, 0, 0))
    px = _shown(qtbot, line)
    ys, xs = np.nonzero(np.all(px == (255, 0, 0), axis=2))
    right = QPointF(float(xs.max()) - 2, float(ys[xs.argmax()]))  # the last marker
    assert line.hover_text(right) == "loss: 0.4 at epoch 3"
    assert line.hover_text(QPointF(right.x(), 5)) is None  # far from every point
    # Qt's tool-tip event shows the same text
    QApplication.sendEvent(line, QHelpEvent(QEvent.Type.ToolTip, right.toPoint(), line.mapToGlobal(right.toPoint())))
    assert QToolTip.text() == "loss: 0.4 at epoch 3"
