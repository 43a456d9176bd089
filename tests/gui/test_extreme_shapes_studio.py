"""The studio with images of extreme shapes (issue 25 item 1): a 1x5000 and a 4000x3 image open, take a
brush stroke, save, and are predicted (this image, and Predict All), at their own size, in seconds."""

import numpy as np
import pytest
import torch
from PIL import Image
from PySide6.QtCore import Qt

from segstudio.core.imageio import read_label_png
from segstudio.core.labels import preset

CAMVID = preset("camvid")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    from segstudio.nets import build_model
    from segstudio.nets.checkpoint import make_card, save_checkpoint

    torch.manual_seed(0)
    card = make_card("segnet-basic", 0.125, CAMVID, name="tiny")
    card["input"]["train_short_side"] = 180  # as the shipped models: these images ask for 60x-180x
    return save_checkpoint(tmp_path_factory.mktemp("models") / "tiny", build_model("segnet-basic", 11, width=0.125),
                           card)


@pytest.fixture
def strips(tmp_path):
    folder = tmp_path / "strips"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name, (h, w) in {"a_tall": (5000, 1), "b_wide": (3, 4000)}.items():
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(folder / f"{name}.png")
    return folder


def test_a_1x5000_image_opens_takes_a_stroke_and_saves(make_window, strips, qtbot, wpos):
    win = make_window(strips)
    c = win.canvas
    assert win.current.path.name == "a_tall.png" and c.labels.shape == (5000, 1)
    win.set_current_class(3)
    qtbot.keyClick(win, Qt.Key.Key_B)
    win.size_spin.setValue(3)
    p = wpos(c, 0.5, c.to_image(c.rect().center())[1])  # the middle of the view
    qtbot.mousePress(c, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, p)
    qtbot.mouseRelease(c, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, p)
    painted = c.labels == 3
    assert painted.any()
    assert win.save_current()
    saved = read_label_png(win.project.mask_path(win.current.path))
    assert saved.shape == (5000, 1) and np.array_equal(saved == 3, painted)


@pytest.mark.slow
def test_strips_are_predicted_one_by_one_and_all_together(make_window, strips, tiny_model, qtbot):
    win = make_window(strips)
    win.prediction.select(tiny_model)
    failed, notes = [], []
    win.prediction.message.connect(notes.append)
    win.prediction.imageFailed.connect(lambda path, text: failed.append(text))
    win.prediction.failed.connect(failed.append)
    with qtbot.waitSignal(win.predictionFinished, timeout=60000):
        win.act_predict.trigger()
    assert not failed and win.canvas.labels.shape == (5000, 1)
    assert any("a 1x5000 image is predicted at" in n for n in notes)  # the bounded scale is said
    assert win.current.history_length == 1  # the prediction, one undo step
    with qtbot.waitSignal(win.predictionFinished, timeout=60000):
        win.act_predict_all.trigger()
    assert not failed
    other = strips / "b_wide.png"
    assert read_label_png(win.project.mask_path(other)).shape == (3, 4000)
