"""The review queue: V marks reviewed and moves on; the file list filters by state and sorts by confidence."""

from __future__ import annotations

import json

import numpy as np
from PySide6.QtCore import Qt

from segstudio.core.assist.confidence_store import save_confidence
from segstudio.core.imageio import write_label_png
from segstudio.core.labels import preset
from segstudio.core.project import ImageState

from .conftest import make_folder


def test_v_marks_reviewed_and_queue_orders_least_confident_first(make_window, tmp_path, qtbot):
    images = make_folder(tmp_path / "images", n=3)
    masks = images / "SegmentationClass"
    for i, mean in enumerate((200, 40, 120)):  # im1 is the least confident
        write_label_png(masks / f"im{i}.png", np.full((64, 96), 3, np.uint8), preset("camvid"))
        save_confidence(masks, f"im{i}", np.full((64, 96), mean, np.uint8))
    win = make_window(images)
    review = win.assist.review
    review.order_combo.setCurrentIndex(1)
    assert [p.name for p in win.file_list.visible_paths()] == ["im1.png", "im2.png", "im0.png"]
    win.open_image(images / "im1.png")
    qtbot.keyClick(win, Qt.Key.Key_V)
    assert win.project.state(images / "im1.png") is ImageState.REVIEWED
    assert win.current.path == images / "im2.png"  # moved on, in queue order
    saved = json.loads((images / "segstudio-project.json").read_text())
    assert saved["states"]["im1.png"] == "reviewed"
    idx = review.state_combo.findData("reviewed")
    review.state_combo.setCurrentIndex(idx)
    assert [p.name for p in win.file_list.visible_paths()] == ["im1.png"]
    assert "1 reviewed" in win.file_list.summary.text()


def test_changing_the_state_filter_keeps_the_order_without_rereading_confidences(make_window, tmp_path,
                                                                                   monkeypatch):
    images = make_folder(tmp_path / "images", n=3)
    masks = images / "SegmentationClass"
    for i, mean in enumerate((200, 40, 120)):
        write_label_png(masks / f"im{i}.png", np.full((64, 96), 3, np.uint8), preset("camvid"))
        save_confidence(masks, f"im{i}", np.full((64, 96), mean, np.uint8))
    win = make_window(images)
    review = win.assist.review
    review.order_combo.setCurrentIndex(1)
    import segstudio.gui.assist.review as review_module

    reads = []
    monkeypatch.setattr(review_module, "mean_confidence", lambda *a: reads.append(a))
    review.state_combo.setCurrentIndex(review.state_combo.findData("saved"))
    review.state_combo.setCurrentIndex(0)
    assert reads == []
    assert [p.name for p in win.file_list.visible_paths()] == ["im1.png", "im2.png", "im0.png"]
