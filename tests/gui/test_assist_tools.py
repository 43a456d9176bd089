"""Assisted tools in the studio, driven by real keys and mouse events on a synthetic image."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from PySide6.QtCore import QPointF, Qt
from torch import nn

from segstudio.core.assist.confidence_store import confidence_path
from segstudio.core.labels import camvid
from segstudio.nets.card import make_card
from segstudio.nets.predictor import Predictor

W, H = 160, 120
DISC = (110, 60, 26)  # cx, cy, r: a yellow disc on the blue right half


def scene():
    rng = np.random.default_rng(0)
    img = np.zeros((H, W, 3), np.float32)
    img[:, : W // 2] = (200, 40, 40)
    img[:, W // 2:] = (40, 60, 200)
    yy, xx = np.mgrid[:H, :W]
    disc = (xx - DISC[0]) ** 2 + (yy - DISC[1]) ** 2 <= DISC[2] ** 2
    img[disc] = (230, 210, 50)
    img += rng.normal(0, 3, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8), disc


@pytest.fixture
def studio(make_window, tmp_path, qtbot):
    folder = tmp_path / "images"
    folder.mkdir()
    img, disc = scene()
    Image.fromarray(img).save(folder / "im0.png")
    win = make_window(folder)
    win.canvas.zoom_to(4.0, QPointF(0, 0))
    win.assist.warm_up()
    qtbot.waitUntil(lambda: win.assist.superpixels() is not None, timeout=20000)
    return win, disc


def click(qtbot, c, x, y, mods=Qt.KeyboardModifier.NoModifier):
    qtbot.mouseClick(c, Qt.MouseButton.LeftButton, mods, c.to_widget(x, y).toPoint())


def drag(qtbot, c, pts, mods=Qt.KeyboardModifier.NoModifier):
    wp = [c.to_widget(x, y).toPoint() for x, y in pts]
    qtbot.mousePress(c, Qt.MouseButton.LeftButton, mods, wp[0])
    for p in wp[1:]:
        qtbot.mouseMove(c, p)
    qtbot.mouseRelease(c, Qt.MouseButton.LeftButton, mods, wp[-1])


def undo_restores(qtbot, win, before):
    qtbot.keyClick(win.canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    return np.array_equal(win.canvas.labels, before)


def test_superpixel_key_click_drag_levels_and_undo(studio, qtbot):
    win, _ = studio
    c, ctl = win.canvas, win.assist
    win.set_current_class(4)
    qtbot.keyClick(win, Qt.Key.Key_S)
    assert ctl.actions["superpixel"].isChecked() and ctl.active is ctl.tools["superpixel"]
    assert ctl.overlay.boundaries is not None
    before = c.labels.copy()
    tool = ctl.tools["superpixel"]
    seg_map = ctl.superpixels().full_labels(tool.level)
    click(qtbot, c, 20.5, 30.5)
    assert np.array_equal(c.labels == 4, seg_map == seg_map[30, 20])  # exactly that superpixel
    assert win.current.history_length == 1
    assert undo_restores(qtbot, win, before)
    qtbot.keyClick(c, Qt.Key.Key_BracketRight)  # finer, not the brush size
    assert tool.level == "fine" and win.size_spin.value() == 15
    drag(qtbot, c, [(5.5, 5.5), (40.5, 5.5), (40.5, 50.5)])
    fine = ctl.superpixels().full_labels("fine")
    ids = {fine[5, 5], fine[5, 40], fine[50, 40]}
    painted = c.labels == 4
    assert ids <= set(np.unique(fine[painted])) and np.array_equal(painted, np.isin(fine, list(np.unique(fine[painted]))))
    assert win.current.history_length == 1  # a drag is one step
    assert undo_restores(qtbot, win, before)


def test_assisted_tools_take_the_class_under_their_press_or_box_centre_when_protecting_so(studio, qtbot):
    win, disc = studio
    c, ctl = win.canvas, win.assist
    c.labels[:, :] = 1
    c.labels[:, 100:] = 3  # the disc (x 84..136) straddles classes 1 and 3
    win.protect_box.setChecked(True)
    win.protect_combo.setCurrentIndex(1)  # the class under the press
    win.set_current_class(6)
    # superpixel drag starting on class 1 over into class 3: only class-1 pixels change
    qtbot.keyClick(win, Qt.Key.Key_S)
    tool = ctl.tools["superpixel"]
    seg_map = ctl.superpixels().full_labels(tool.level)
    before = c.labels.copy()
    drag(qtbot, c, [(60.5, 30.5), (120.5, 30.5)])
    touched = np.isin(seg_map, np.unique(seg_map[c.labels == 6]))
    assert (touched & (before == 3)).any()
    assert np.array_equal(c.labels == 6, touched & (before == 1))
    assert undo_restores(qtbot, win, before)
    # GrabCut box around the disc: its centre (110, 60) lies on class 3, so the disc's class-1 part stays
    qtbot.keyClick(win, Qt.Key.Key_C)
    gc = ctl.tools["grabcut"]
    cx, cy, r = DISC
    drag(qtbot, c, [(cx - r - 6, cy - r - 6), (cx + r + 6, cy + r + 6)])
    qtbot.waitUntil(lambda: gc.result is not None, timeout=20000)
    qtbot.keyClick(c, Qt.Key.Key_Return)
    got = c.labels == 6
    assert got.sum() > 0.8 * (disc & (before == 3)).sum()
    assert not (got & (before == 1)).any() and (disc & (before == 1)).sum() > 200
    assert undo_restores(qtbot, win, before)


def test_wand_click_selects_the_half_and_drag_sets_tolerance(studio, qtbot):
    win, disc = studio
    c, ctl = win.canvas, win.assist
    win.set_current_class(2)
    qtbot.keyClick(win, Qt.Key.Key_W)
    assert ctl.active is ctl.tools["wand"]
    ctl.tolerance_spin.setValue(25)
    before = c.labels.copy()
    click(qtbot, c, 10.5, 10.5)
    expected = np.zeros((H, W), bool)
    expected[:, : W // 2] = True
    assert np.array_equal(c.labels == 2, expected)
    assert undo_restores(qtbot, win, before)
    drag(qtbot, c, [(10.5, 10.5), (25.5, 10.5)])  # 60 screen px to the right: +20 tolerance
    assert ctl.tolerance() == pytest.approx(45, abs=0.5)
    assert win.current.history_length == 1


def test_grabcut_box_preview_enter_commits_and_undo(studio, qtbot):
    win, disc = studio
    c, ctl = win.canvas, win.assist
    win.set_current_class(8)
    qtbot.keyClick(win, Qt.Key.Key_C)
    tool = ctl.tools["grabcut"]
    assert ctl.active is tool and "(C)" in ctl.actions["grabcut"].toolTip()
    before = c.labels.copy()
    cx, cy, r = DISC
    drag(qtbot, c, [(cx - r - 6, cy - r - 6), (cx, cy), (cx + r + 6, cy + r + 6)])
    qtbot.waitUntil(lambda: tool.result is not None, timeout=20000)
    assert np.array_equal(c.labels, before)  # only a preview so far
    qtbot.keyClick(c, Qt.Key.Key_Return)
    got = c.labels == 8
    assert (got & disc).sum() / (got | disc).sum() >= 0.95
    assert win.current.history_length == 1
    assert undo_restores(qtbot, win, before)
    # Again with a background hint: a Ctrl-drag across the disc's middle row keeps that band out
    # (GrabCut then decides the rest by colour).
    drag(qtbot, c, [(cx - r - 6, cy - r - 6), (cx + r + 6, cy + r + 6)])
    qtbot.waitUntil(lambda: tool.result is not None, timeout=20000)
    tool.result = None
    drag(qtbot, c, [(cx - r + 2, cy), (cx + r - 2, cy)], mods=Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: tool.result is not None, timeout=20000)
    qtbot.keyClick(c, Qt.Key.Key_Return)
    assert not (c.labels[cy - 1:cy + 2, cx - r + 4:cx + r - 4] == 8).any()
    assert win.current.history_length == 1


class Halves(nn.Module):
    """Class 1 left of the image centre, class 3 right; logits margin grows away from the centre."""

    num_classes, output_stride, tile_overlap = 11, 1, 0

    def forward(self, x):
        n, _, h, w = x.shape
        d = (torch.arange(w, dtype=torch.float32) - w / 2) / w * 8
        logits = torch.zeros(n, 11, h, w)
        logits[:, 1] = -d
        logits[:, 3] = d
        return logits


def fake_model(win, tmp_path):
    norm = {"channel_order": "RGB", "scale": 1 / 255, "mean": [0, 0, 0], "std": [1, 1, 1]}
    pred = Predictor(Halves(), make_card("fcn8s", 0.0625, camvid(), input_norm=norm), device="cpu")
    path = tmp_path / "halves.safetensors"
    win.prediction.cache.path, win.prediction.cache.predictor = path, pred
    win.prediction.model_path = path


def test_repredict_box_replaces_only_the_box_in_one_step(studio, qtbot, tmp_path):
    win, _ = studio
    c, ctl = win.canvas, win.assist
    fake_model(win, tmp_path)
    qtbot.keyClick(win, Qt.Key.Key_R)
    assert ctl.active is ctl.tools["repredict"]
    before = c.labels.copy()
    drag(qtbot, c, [(20, 30), (60, 70)])
    qtbot.waitUntil(lambda: win.current.history_length == 1, timeout=20000)
    box = np.zeros((H, W), bool)
    box[30:71, 20:61] = True
    assert np.array_equal(c.labels[~box], before[~box])
    inside = c.labels[box]
    assert set(np.unique(inside)) <= {1, 3} and (inside == 1).any()
    assert undo_restores(qtbot, win, before)


def test_confidence_heat_is_saved_and_next_region_pans(studio, qtbot, tmp_path):
    win, _ = studio
    c, ctl = win.canvas, win.assist
    fake_model(win, tmp_path)
    qtbot.keyClick(win, Qt.Key.Key_U)
    qtbot.waitUntil(lambda: ctl.overlay.heat is not None, timeout=20000)
    saved = confidence_path(win.project.masks_dir, "im0")
    assert saved.is_file()
    conf = np.array(Image.open(saved))
    assert conf.shape == (H, W) and conf[:, W // 2 - 2:W // 2 + 2].mean() < conf[:, :10].mean()
    offset = QPointF(c.offset)
    qtbot.keyClick(win, Qt.Key.Key_N)
    assert c.offset != offset  # the view moved to the low-confidence strip in the middle
    centre = c.to_image(QPointF(c.width() / 2, c.height() / 2))
    assert abs(centre[0] - W / 2) < 6


def test_prediction_saves_confidence_and_queue_fills_missing_ones(studio, qtbot, tmp_path):
    win, _ = studio
    fake_model(win, tmp_path)
    saved = confidence_path(win.project.masks_dir, "im0")
    # `finished` comes after the queued per-image results (`busy` may clear before the GUI has the labels).
    with qtbot.waitSignal(win.prediction.finished, timeout=20000):
        win.prediction.predict([win.current.path], single=True)  # what Ctrl+R does once the model fits
    assert saved.is_file()
    first = np.array(Image.open(saved))
    assert first.shape == (H, W) and first[:, :10].mean() > first[:, W // 2 - 2:W // 2 + 2].mean()
    saved.unlink()  # as after a batch prediction: a mask without confidence
    assert win.save_current() and win.project.has_mask(win.current.path)
    win.assist.review.order_combo.setCurrentIndex(1)
    qtbot.waitUntil(lambda: saved.is_file(), timeout=20000)
    assert np.array_equal(np.array(Image.open(saved)), first)


def test_confidence_for_the_queue_waits_for_a_running_confidence_job(studio, qtbot, tmp_path):
    """Sorting by confidence while the confidence view is busy fills the missing maps once it is free."""
    import threading

    win, _ = studio
    fake_model(win, tmp_path)
    with qtbot.waitSignal(win.prediction.finished, timeout=20000):
        win.prediction.predict([win.current.path], single=True)
    saved = confidence_path(win.project.masks_dir, "im0")
    saved.unlink()
    assert win.save_current() and win.project.has_mask(win.current.path)
    view, release = win.assist.confidence, threading.Event()
    view.runner.start(lambda progress, cancelled: release.wait(20), on_finished=view._after_job)
    win.assist.review.order_combo.setCurrentIndex(1)
    qtbot.wait(300)
    assert not saved.is_file()  # nothing computed while the other job runs
    release.set()
    qtbot.waitUntil(lambda: saved.is_file(), timeout=20000)
    qtbot.waitUntil(lambda: not view.runner.running(), timeout=20000)


class HalvesWithDropout(Halves):
    def __init__(self):
        super().__init__()
        self.drop = nn.Dropout(0.5)

    def forward(self, x):
        logits = super().forward(x)
        w = logits.shape[-1]
        logits[..., : w // 4] = self.drop(logits[..., : w // 4])  # the left quarter varies under dropout
        return logits


def test_monte_carlo_dropout_option(studio, qtbot, tmp_path):
    win, _ = studio
    ctl = win.assist
    fake_model(win, tmp_path)
    win.prediction.cache.predictor.model = HalvesWithDropout().eval()
    ctl.confidence.act_mc.setChecked(True)
    qtbot.keyClick(win, Qt.Key.Key_U)
    qtbot.waitUntil(lambda: ctl.overlay.heat is not None, timeout=30000)
    conf = ctl.confidence.conf
    assert conf[:, : W // 8].mean() < conf[:, W // 4 + 5: W // 2 - 10].mean()  # dropout spread shows as doubt
    assert not win.prediction.cache.predictor.model.drop.training


def test_superpixels_wait_for_the_first_assisted_tool(make_window, tmp_path, qtbot):
    """Nothing competes with the brush until an assisted tool is used; then every opened image is prepared."""
    folder = tmp_path / "images"
    folder.mkdir()
    img, _ = scene()
    Image.fromarray(img).save(folder / "a.png")
    Image.fromarray(img[:, ::-1].copy()).save(folder / "b.png")
    win = make_window(folder)
    qtbot.wait(300)
    assert not win.assist.eager and not win.assist.data.runner.running()
    assert win.assist.superpixels() is None
    qtbot.keyClick(win.canvas, Qt.Key.Key_S)
    qtbot.waitUntil(lambda: win.assist.superpixels() is not None, timeout=20000)
    first = win.assist.data.key
    qtbot.keyClick(win.canvas, Qt.Key.Key_B)
    qtbot.keyClick(win.canvas, Qt.Key.Key_D)  # next image: computed without pressing S again
    qtbot.waitUntil(lambda: win.assist.data.key not in (None, first)
                    and win.assist.superpixels() is not None, timeout=20000)


def test_wand_reselects_only_when_a_move_changes_the_tolerance(studio, qtbot, monkeypatch):
    win, _disc = studio
    c, ctl = win.canvas, win.assist
    qtbot.keyClick(win, Qt.Key.Key_W)
    wand = ctl.wand()
    calls = []
    real = wand.select
    monkeypatch.setattr(wand, "select", lambda *a: calls.append(a) or real(*a))
    drag(qtbot, c, [(10.5, 10.5), (10.5, 20.5), (10.5, 30.5)])  # straight down: tolerance unchanged
    assert len(calls) == 1  # the press
    assert win.current.history_length == 1


def full_mask(bm):
    out = np.zeros((H, W), bool)
    (x0, y0, x1, y1), m = bm
    out[y0:y1, x0:x1] = m
    return out


def test_model_wand_key_click_enter_drag_tolerance_and_undo(studio, qtbot, tmp_path):
    """M selects the model wand; a press previews the superpixels where the model gives the current
    class at least the tolerance (Halves: class 1 on the left half), Enter commits, Ctrl+Z restores."""
    win, _ = studio
    c, ctl = win.canvas, win.assist
    fake_model(win, tmp_path)
    win.set_current_class(1)
    qtbot.keyClick(win, Qt.Key.Key_M)
    tool = ctl.tools["modelwand"]
    assert ctl.active is tool and "(M)" in ctl.actions["modelwand"].toolTip()
    qtbot.waitUntil(lambda: ctl.model_wand() is not None, timeout=20000)
    expected = full_mask(ctl.model_wand().select(tool.level, 1, 10.5, 60.5, 0.25))
    assert expected[60, 10] and expected[:, :20].all() and not expected[:, W // 2:].any()
    before = c.labels.copy()
    p = c.to_widget(10.5, 60.5).toPoint()
    qtbot.mousePress(c, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, p)
    assert np.array_equal(c.labels, before)  # a preview until Enter (or release)
    qtbot.keyClick(c, Qt.Key.Key_Return)
    qtbot.mouseRelease(c, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, p)
    assert np.array_equal(c.labels == 1, expected | (before == 1))
    assert win.current.history_length == 1
    assert undo_restores(qtbot, win, before)
    # 30 screen px to the right (zoom 4): +0.1 tolerance; the release commits the smaller region.
    drag(qtbot, c, [(10.5, 60.5), (14.25, 60.5), (18.0, 60.5)])
    assert tool.tolerance == pytest.approx(0.35)
    tighter = full_mask(ctl.model_wand().select(tool.level, 1, 10.5, 60.5, 0.35))
    assert np.array_equal(c.labels == 1, tighter | (before == 1)) and tighter.sum() < expected.sum()
    qtbot.keyClick(c, Qt.Key.Key_BracketRight)
    assert tool.level == "fine"
    assert undo_restores(qtbot, win, before)


def test_model_wand_probabilities_follow_the_tta_setting(studio, qtbot, tmp_path):
    """The model wand's probabilities are those of the current Model menu settings, not reused across them."""
    win, _ = studio
    ctl = win.assist
    fake_model(win, tmp_path)
    qtbot.keyClick(win, Qt.Key.Key_M)
    qtbot.waitUntil(lambda: ctl.model_wand() is not None, timeout=20000)
    first = ctl.model_wand().probs
    win.tta_menu.choice_actions["flip"].trigger()
    assert ctl.model_wand() is None  # asked for again with the new setting
    qtbot.waitUntil(lambda: ctl.model_wand() is not None, timeout=20000)
    assert ctl.model_wand().probs is not first and ctl.model_wand().probs.shape == first.shape
