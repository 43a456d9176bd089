"""Model > Learn As I Annotate: a real background fine-tune on a tiny folder, re-prediction, the switch."""

import numpy as np
import pytest

from segstudio.core.imageio import load_image, read_label_png, write_label_png
from segstudio.core.labels import preset
from segstudio.core.states import ImageState
from segstudio.gui.learning_loop import SETTING
from segstudio.nets.learning_loop import LoopSettings, model_dir, versions

from .conftest import make_folder

CAMVID = preset("camvid")
FAST = LoopSettings(minutes=0.05, batch_size=2, short_side=64, crop=None, nice=0)


def _fast(win, minutes=0.05):
    win.learning.loop_settings = LoopSettings(minutes=minutes, batch_size=2, short_side=64, crop=None, nice=0)
    win.learning.timer.setInterval(20)


def test_the_switch_is_in_the_model_menu_and_remembered(make_window, image_folder, studio_settings):
    win = make_window(image_folder)
    assert win.learning.action in win.model_menu.actions()
    win.prediction.modelsChanged.emit()  # the menu is rebuilt: the switch stays
    assert win.learning.action in win.model_menu.actions()
    assert not win.learning.enabled and win.learning.label.text() == ""
    win.learning.action.trigger()
    assert studio_settings.value(SETTING, type=bool) is True
    assert win.learning.label.text() == "Learning: on, waiting for saved images"
    again = make_window(image_folder)
    assert again.learning.enabled


def test_nothing_starts_without_a_finished_image(make_window, image_folder):
    win = make_window(image_folder)
    _fast(win)
    win.learning.set_enabled(True)
    assert not win.learning.check()  # im0 is on screen and unlabelled: nothing finished yet


@pytest.mark.slow
def test_a_round_trains_a_version_and_repredicts_only_untouched_images(make_window, tmp_path, qtbot):
    folder = make_folder(tmp_path / "images", n=4)
    masks = folder / "SegmentationClass"
    rng = np.random.default_rng(1)
    predicted_before = rng.integers(0, 11, (64, 96), dtype=np.uint8)
    win = make_window(folder)
    _fast(win)
    # im0: painted and saved; im2: a mask a model predicted; im3: saved by a person
    win.current.apply_mask(np.ones((64, 96), bool), 3)
    assert win.save_current()
    win.project.save_mask(folder / "im2.png", predicted_before, ImageState.PREDICTED)
    person = np.full((64, 96), 8, np.uint8)
    win.project.save_mask(folder / "im3.png", person, ImageState.SAVED)
    win.open_image(folder / "im1.png")  # im0 is left: finished
    assert [p.name for p in win.learning.finished_images()] == ["im0.png", "im3.png"]
    win.learning.set_enabled(True)
    qtbot.waitUntil(lambda: win.learning.runner.running(), timeout=5000)
    qtbot.waitUntil(lambda: not win.learning.runner.running() and win.learning.version is not None, timeout=120000)
    qtbot.wait(200)  # the queued per-image results
    (v, path), = versions(model_dir(folder))
    assert v == 1 and win.learning.version == path
    # re-predicted: im2 (predicted); not im1 (on screen), not im0 / im3 (saved)
    assert win.learning.repredicted == 1
    assert win.learning.label.text() == "Project model v1 · trained on 2 images · re-predicted 1"
    from segstudio.nets.predictor import Predictor

    expected = Predictor.from_checkpoint(path, device="cpu", backend="torch").predict(load_image(folder / "im2.png"))
    assert np.array_equal(read_label_png(masks / "im2.png"), expected)
    assert win.project.state(folder / "im2.png") is ImageState.PREDICTED
    assert np.array_equal(read_label_png(masks / "im3.png"), person)
    assert (read_label_png(masks / "im0.png") == 3).all()
    assert not (masks / "im1.png").exists() and win.current.path.name == "im1.png"
    # the new version is the selected model (nothing else was selected), and nothing changed: no new round
    assert win.prediction.model_path == path
    assert not win.learning.check()


@pytest.mark.slow
def test_turning_it_off_cancels_the_round_and_keeps_nothing(make_window, tmp_path, qtbot):
    folder = make_folder(tmp_path / "images", n=2)
    win = make_window(folder)
    _fast(win, minutes=1.0)
    win.current.apply_mask(np.ones((64, 96), bool), 3)
    win.save_current()
    win.open_image(folder / "im1.png")
    win.learning.set_enabled(True)
    qtbot.waitUntil(lambda: win.learning.runner.running(), timeout=5000)
    qtbot.waitUntil(lambda: win.learning.label.text().startswith("Learning: training"), timeout=20000)
    win.learning.action.trigger()  # off
    qtbot.waitUntil(lambda: not win.learning.runner.running(), timeout=60000)
    qtbot.wait(100)
    assert versions(model_dir(folder)) == [] and win.learning.version is None
    assert not (folder / "SegmentationClass" / "im1.png").exists()


def test_a_version_from_an_earlier_session_is_shown(make_window, image_folder, studio_settings, tmp_path):
    import shutil

    from segstudio.nets import build_model
    from segstudio.nets.card import make_card
    from segstudio.nets.checkpoint import save_checkpoint

    card = make_card("fcn8s-lite0", 1.0, CAMVID)
    card["project_model"] = {"version": 2, "trained_on_images": 7, "base": "project-v1"}
    saved = save_checkpoint(tmp_path / "m" / "project-v2", build_model("fcn8s-lite0", 11), card)
    folder = model_dir(image_folder)
    folder.mkdir()
    for p in (saved, saved.with_suffix(".json")):
        shutil.copy(p, folder / p.name)
    studio_settings.setValue(SETTING, True)
    win = make_window(image_folder)
    assert win.learning.version == folder / "project-v2.safetensors"
    assert win.learning.label.text() == "Project model v2 · trained on 7 images · re-predicted 0"
