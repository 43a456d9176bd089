"""The similar-region click (K) in the studio: a real fcn8s-lite0 on the ImageNet encoder, real mouse events."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PySide6.QtCore import Qt

from segstudio.core.labels import camvid
from segstudio.nets import build_model
from segstudio.nets.card import make_card
from segstudio.nets.checkpoint import save_checkpoint
from segstudio.nets.pretrained import LITE0_IMAGENET, load_encoder

from .test_assist_tools import W, drag, full_mask, studio, undo_restores  # noqa: F401 (the fixture)


@pytest.fixture(scope="module")
def lite0(tmp_path_factory):
    torch.manual_seed(0)
    model = build_model("fcn8s-lite0", 11)
    load_encoder(model.encoder, LITE0_IMAGENET)
    card = make_card("fcn8s-lite0", 1.0, camvid(), input_norm=LITE0_IMAGENET.input_norm)
    return save_checkpoint(tmp_path_factory.mktemp("models") / "lite", model, card)


@pytest.fixture(scope="module")
def segnet(tmp_path_factory):
    model = build_model("segnet-basic", 11, 0.125)
    return save_checkpoint(tmp_path_factory.mktemp("models") / "seg", model, make_card("segnet-basic", 0.125, camvid()))


def test_similar_click_previews_commits_one_step_drags_tolerance_and_respects_protect(studio, lite0, qtbot):
    win, _ = studio
    c, ctl = win.canvas, win.assist
    win.prediction.select(lite0)
    assert ctl.actions["similar"].isEnabled() and "(K)" in ctl.actions["similar"].toolTip()
    win.set_current_class(5)
    qtbot.keyClick(win, Qt.Key.Key_K)
    tool = ctl.tools["similar"]
    assert ctl.active is tool
    qtbot.waitUntil(lambda: ctl.similar_region() is not None, timeout=30000)
    expected = full_mask(ctl.similar_region().select(tool.level, 10.5, 60.5, tool.tolerance))
    # the red left half, not the blue right half
    assert expected[60, 10] and expected[:, : W // 2].mean() > 0.15 and not expected[:, W // 2:].any()
    before = c.labels.copy()
    p = c.to_widget(10.5, 60.5).toPoint()
    qtbot.mousePress(c, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, p)
    assert np.array_equal(c.labels, before) and ctl.overlay.preview is not None  # a live preview
    qtbot.mouseRelease(c, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, p)
    assert np.array_equal(c.labels == 5, expected) and win.current.history_length == 1
    assert win.current.undo_text() == "Similar region (tolerance 0.3)"
    assert undo_restores(qtbot, win, before)
    # 60 screen px to the left (zoom 4 -> 15 image px): tolerance 0.3 - 0.2 = 0.1, a smaller region
    drag(qtbot, c, [(30.5, 60.5), (23.0, 60.5), (15.5, 60.5)])
    assert tool.tolerance == pytest.approx(0.1)
    tighter = full_mask(ctl.similar_region().select(tool.level, 30.5, 60.5, 0.1))
    assert np.array_equal(c.labels == 5, tighter) and tighter.sum() <= expected.sum()
    assert undo_restores(qtbot, win, before)
    # Protect, "the class under the press": a click on class 2 changes only class-2 pixels
    c.labels[:, :] = 2
    c.labels[:, 20:] = 4
    win.protect_box.setChecked(True)
    win.protect_combo.setCurrentIndex(1)
    tool.tolerance = 0.3
    before = c.labels.copy()
    qtbot.mouseClick(c, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, p)
    assert np.array_equal(c.labels == 5, expected & (before == 2))
    assert (expected & (before == 4)).any()


def test_another_architecture_disables_the_tool_and_says_why(studio, lite0, segnet):
    win, _ = studio
    action = win.assist.actions["similar"]
    win.prediction.select(segnet)
    assert not action.isEnabled() and "needs an fcn8s-lite0 model" in action.toolTip()
    win.prediction.select(lite0)
    assert action.isEnabled()
