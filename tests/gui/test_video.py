"""Video in the studio: Open Video extracts and opens the frames; J / Shift+J propagate masks along them."""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QPushButton
from torch import nn

from segstudio.core.imageio import read_label_png, write_label_png
from segstudio.core.labels import camvid
from segstudio.core.project import ImageState
from segstudio.nets.card import make_card
from segstudio.nets.predictor import Predictor

W, H, PAD, STEP = 120, 90, 30, (4, 2)  # frames of a scene moving STEP px per frame
IGNORE = 11


def scene(seed=0):
    rng = np.random.default_rng(seed)
    img = cv2.GaussianBlur(rng.integers(0, 256, (H + 2 * PAD, W + 2 * PAD, 3), dtype=np.uint8), (0, 0), 1.5)
    yy, xx = np.mgrid[:H + 2 * PAD, :W + 2 * PAD]
    return img, ((xx // 20 + yy // 15) % 4).astype(np.uint8)  # classes 0..3


def frame(arr, i):
    dx, dy = STEP[0] * i, STEP[1] * i
    return arr[PAD - dy:PAD - dy + H, PAD - dx:PAD - dx + W].copy()


def make_sequence(folder: Path, n=4, first_mask=True) -> tuple[list[Path], np.ndarray]:
    folder.mkdir(parents=True)
    img, labels = scene()
    paths = []
    for i in range(n):
        p = folder / f"clip_f{i:06d}.png"
        Image.fromarray(frame(img, i)).save(p)
        paths.append(p)
    if first_mask:
        write_label_png(folder / "SegmentationClass" / paths[0].name, frame(labels, 0), camvid())
    return paths, labels


def seen_before(i):
    """Pixels of frame i whose content was visible in frame 0 (the rest is newly visible)."""
    m = np.zeros((H, W), bool)
    m[STEP[1] * i:, STEP[0] * i:] = True
    return m


def inner(i, margin=3):
    m = np.zeros((H, W), bool)
    m[STEP[1] * i + margin:-margin, STEP[0] * i + margin:-margin] = True
    return m


class Constant(nn.Module):
    """A model that says class 7 everywhere, sure of it."""

    num_classes, output_stride, tile_overlap = 11, 1, 0

    def forward(self, x):
        logits = torch.zeros(x.shape[0], 11, x.shape[2], x.shape[3])
        logits[:, 7] = 10.0
        return logits


def constant_model(win, tmp_path):
    norm = {"channel_order": "RGB", "scale": 1 / 255, "mean": [0, 0, 0], "std": [1, 1, 1]}
    pred = Predictor(Constant(), make_card("fcn8s", 0.0625, camvid(), input_norm=norm), device="cpu")
    path = tmp_path / "constant.safetensors"
    win.prediction.cache.path, win.prediction.cache.predictor = path, pred
    win.prediction.model_path = path


def open_frame(win, paths, i, qtbot):
    assert win.open_image(paths[i])
    return win.current


def test_j_warps_the_previous_mask_and_undo_restores(make_window, tmp_path, qtbot):
    paths, labels = make_sequence(tmp_path / "seq")
    win = make_window(tmp_path / "seq")
    doc = open_frame(win, paths, 1, qtbot)
    qtbot.keyClick(win, Qt.Key.Key_J)
    qtbot.waitUntil(lambda: doc.history_length == 1, timeout=20000)
    truth = frame(labels, 1)
    got = win.canvas.labels
    assert np.array_equal(got[inner(1)], truth[inner(1)])
    assert (got[~seen_before(1)] == IGNORE).all()  # newly visible, no model: left unlabelled
    assert doc.undo_text() == "Propagate from clip_f000000.png"
    share = float((got != IGNORE).mean())
    assert f"{share:.0%} from clip_f000000.png; the flow is unsure on the other" in win.statusBar().currentMessage()
    assert win.docs.state(paths[1]) is ImageState.EDITED  # unsaved
    win.save_current()
    assert win.project.state(paths[1]) is ImageState.PREDICTED  # machine labels to review
    qtbot.keyClick(win.canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert (win.canvas.labels == IGNORE).all()


def test_j_without_a_previous_frame_or_mask_says_why(make_window, tmp_path, qtbot):
    paths, _ = make_sequence(tmp_path / "seq", first_mask=False)
    win = make_window(tmp_path / "seq")
    open_frame(win, paths, 0, qtbot)
    qtbot.keyClick(win, Qt.Key.Key_J)
    assert "no previous frame" in win.statusBar().currentMessage()
    open_frame(win, paths, 1, qtbot)
    qtbot.keyClick(win, Qt.Key.Key_J)
    assert "clip_f000000.png has no mask yet" in win.statusBar().currentMessage()


def test_edits_are_kept_unless_overwrite_is_on(make_window, tmp_path, qtbot):
    paths, labels = make_sequence(tmp_path / "seq")
    win = make_window(tmp_path / "seq")
    doc = open_frame(win, paths, 1, qtbot)
    mark = np.zeros((H, W), bool)
    mark[40:60, 50:80] = True
    doc.apply_mask(mark, 9)  # a person paints Pedestrian
    ctl = win.assist.propagate
    ctl.propagate_current()
    qtbot.waitUntil(lambda: doc.history_length == 2, timeout=20000)
    assert (win.canvas.labels[mark] == 9).all()
    assert np.array_equal(win.canvas.labels[inner(1) & ~mark], frame(labels, 1)[inner(1) & ~mark])
    assert "your edits were kept" in win.statusBar().currentMessage()
    ctl.act_overwrite.setChecked(True)
    ctl.propagate_current()
    qtbot.waitUntil(lambda: doc.history_length == 3, timeout=20000)
    assert np.array_equal(win.canvas.labels[inner(1)], frame(labels, 1)[inner(1)])


def test_the_model_fills_what_the_flow_cannot(make_window, tmp_path, qtbot):
    paths, labels = make_sequence(tmp_path / "seq")
    win = make_window(tmp_path / "seq")
    constant_model(win, tmp_path)
    doc = open_frame(win, paths, 1, qtbot)
    win.assist.propagate.propagate_current()  # asks for the model's probabilities first, then propagates
    qtbot.waitUntil(lambda: doc.history_length == 1, timeout=30000)
    got = win.canvas.labels
    assert (got[~seen_before(1)] == 7).all()  # newly visible: the model's class
    assert "the rest from the model" in win.statusBar().currentMessage()
    assert np.array_equal(got[inner(1)], frame(labels, 1)[inner(1)])  # consistent flow: the warp


def test_propagate_forward_through_frames_saves_each_as_one_step(make_window, tmp_path, qtbot):
    paths, labels = make_sequence(tmp_path / "seq", n=4)
    human = np.full((H, W), IGNORE, np.uint8)
    human[:20, :30] = 10  # frame 3 already has a few pixels a person saved
    write_label_png(tmp_path / "seq" / "SegmentationClass" / paths[3].name, human, camvid())
    win = make_window(tmp_path / "seq")
    open_frame(win, paths, 0, qtbot)
    ctl = win.assist.propagate
    ctl.ask_forward(5)  # only 3 frames follow
    assert ctl.dialog is not None and ctl.dialog.isVisible()
    qtbot.waitUntil(lambda: not ctl.forward_runner.running() and ctl.dialog is None, timeout=60000)
    assert "Propagated through 3 frames" in win.statusBar().currentMessage()
    masks = win.project.masks_dir
    for i in (1, 2, 3):
        got = read_label_png(masks / paths[i].name)
        keep = inner(i, margin=3 + i)
        if i == 3:
            keep &= human == IGNORE
        assert np.array_equal(got[keep], frame(labels, i)[keep]), i
    got3 = read_label_png(masks / paths[3].name)
    assert (got3[:20, :30] == 10).all()  # the saved mask's labelled pixels stay
    assert win.project.state(paths[1]) is ImageState.PREDICTED
    doc2 = win.docs.get(paths[2])
    assert doc2.history_length == 1 and not doc2.loaded  # one step each, pixels released
    open_frame(win, paths, 2, qtbot)
    win.activateWindow()  # the progress dialog had it
    qtbot.waitUntil(win.isActiveWindow)
    qtbot.keyClick(win.canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert (win.canvas.labels == IGNORE).all()


def test_propagate_forward_can_be_cancelled(make_window, tmp_path, qtbot):
    paths, _ = make_sequence(tmp_path / "seq", n=6)
    win = make_window(tmp_path / "seq")
    open_frame(win, paths, 0, qtbot)
    ctl = win.assist.propagate
    ctl.propagate_forward(5)
    qtbot.mouseClick(ctl.dialog.findChild(QPushButton), Qt.MouseButton.LeftButton)  # Cancel
    qtbot.waitUntil(lambda: not ctl.forward_runner.running() and ctl.dialog is None, timeout=60000)
    assert "cancelled" in win.statusBar().currentMessage()
    assert ctl.applied < 5


def write_video(path: Path, n=10, fps=10.0):
    img, _ = scene()
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (W, H))
    for i in range(n):
        w.write(cv2.cvtColor(frame(img, i % 6), cv2.COLOR_RGB2BGR))
    w.release()
    return path


def test_open_video_extracts_frames_and_opens_them_as_a_sequence(make_window, tmp_path, qtbot):
    video = write_video(tmp_path / "drive.avi")
    win = make_window()
    opener = win.assist.video
    assert opener.act_open_video in win.menuBar().actions()[0].menu().actions()
    assert opener.open_video(video, rate=(2, None))
    qtbot.waitUntil(lambda: win.project is not None, timeout=30000)
    assert win.project.images_dir == (tmp_path / "drive_frames").resolve()
    assert [p.name for p in win.project.images] == [f"drive_f{i:06d}.png" for i in (0, 2, 4, 6, 8)]
    assert opener.dialog is None
    assert opener.open_video(video, rate=(2, None))  # done before: opens at once
    assert "extracted before" in win.statusBar().currentMessage()


def test_a_broken_video_is_reported_by_name(make_window, tmp_path, qtbot):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(3000))
    win = make_window()
    assert not win.assist.video.open_video(bad, rate=(1, None))
    assert str(bad) in win.last_error and "cannot open as a video" in win.last_error
    assert not (tmp_path / "broken_frames").exists()


def test_the_rate_dialog_proposes_about_five_frames_a_second(make_window, tmp_path, monkeypatch, qtbot):
    from segstudio.core.video import probe_video
    from segstudio.gui.app import _open_start_folder
    from segstudio.gui.video_open import RateDialog

    video = write_video(tmp_path / "drive.avi", n=30, fps=30.0)
    d = RateDialog(probe_video(video))
    assert d.rate() == (6, None) and "5 frames will be extracted" in d.count.text()
    d.by_fps.setChecked(True)
    d.fps.setValue(10.0)
    assert d.rate() == (None, 10.0) and "10 frames" in d.count.text()
    monkeypatch.setattr(RateDialog, "exec", lambda self: QDialog.DialogCode.Accepted)
    win = make_window()
    _open_start_folder(win, argparse.Namespace(path=str(video), labels="camvid", masks=None))  # segstudio VIDEO
    qtbot.waitUntil(lambda: win.project is not None, timeout=30000)
    assert len(win.project.images) == 5 and win.project.labelset.name == "camvid"


def test_cancelling_the_extraction_keeps_its_frames_and_opens_nothing(make_window, tmp_path, qtbot):
    video = write_video(tmp_path / "long.avi", n=300)
    win = make_window()
    opener = win.assist.video
    assert opener.open_video(video, rate=(1, None))
    qtbot.mouseClick(opener.dialog.findChild(QPushButton), Qt.MouseButton.LeftButton)  # Cancel
    qtbot.waitUntil(lambda: not opener.runner.running() and opener.dialog is None, timeout=30000)
    assert win.project is None
    assert "Extraction cancelled" in win.statusBar().currentMessage()
    assert len(list((tmp_path / "long_frames").glob("*.png"))) < 300


def test_a_frame_edited_while_the_forward_job_ran_keeps_those_edits(make_window, tmp_path, qtbot):
    from segstudio.gui.assist.propagate_forward import apply_frame

    paths, _ = make_sequence(tmp_path / "seq", n=3)
    win = make_window(tmp_path / "seq")
    doc = open_frame(win, paths, 2, qtbot)
    seen = doc.labels.copy()  # what the worker read: all unlabelled
    mark = np.zeros((H, W), bool)
    mark[10:30, 10:40] = True
    doc.apply_mask(mark, 9)  # meanwhile a person paints
    new = np.full((H, W), 3, np.uint8)
    assert apply_frame(win.assist.propagate, paths[2], paths[1], seen, new, kept=False)
    assert (win.canvas.labels[mark] == 9).all() and (win.canvas.labels[~mark] == 3).all()
    assert doc.history_length == 2 and doc.undo_text() == "Propagate from clip_f000001.png"
