"""Prediction on the worker thread with a tiny real model: responsive GUI, one undo step, cancel."""

import threading

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt, QTimer

import torch

import segstudio.nets.predictor as predictor_mod
from segstudio.core.imageio import load_image, read_label_png
from segstudio.core.labels import preset

CAMVID = preset("camvid")
ORIG_PREDICT = predictor_mod.Predictor.predict


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    from segstudio.nets import build_model
    from segstudio.nets.checkpoint import make_card, save_checkpoint

    torch.manual_seed(0)
    model = build_model("segnet-basic", 11, width=0.125)
    card = make_card("segnet-basic", 0.125, CAMVID)
    card["name"] = "tiny"
    return save_checkpoint(tmp_path_factory.mktemp("models") / "tiny", model, card)


@pytest.fixture
def gate(monkeypatch):
    """Holds the worker just before the model runs until the test opens it; records the thread."""
    g = {"reached": threading.Event(), "open": threading.Event(), "threads": [], "hold_at": 1, "calls": 0}
    P = predictor_mod.Predictor
    orig_predict, orig_batch, orig_conf = P.predict, P.predict_batch, P.predict_confidence

    def hold():
        g["threads"].append(threading.get_ident())
        g["calls"] += 1
        if g["calls"] == g["hold_at"]:
            g["reached"].set()
            assert g["open"].wait(30)

    def predict(self, *a, **k):
        hold()
        return orig_predict(self, *a, **k)

    def predict_batch(self, *a, **k):
        hold()
        return orig_batch(self, *a, **k)

    def predict_confidence(self, *a, **k):
        hold()
        return orig_conf(self, *a, **k)

    monkeypatch.setattr(P, "predict", predict)
    monkeypatch.setattr(P, "predict_batch", predict_batch)
    monkeypatch.setattr(P, "predict_confidence", predict_confidence)
    return g


def _expected(model_path, image_path):
    p = predictor_mod.Predictor.from_checkpoint(model_path, device="cpu")
    return ORIG_PREDICT(p, load_image(image_path))


def test_predict_this_image_runs_on_worker_gui_stays_responsive(make_window, image_folder, tiny_model, gate,
                                                                qtbot):
    win = make_window(image_folder)
    win.prediction.select(tiny_model)
    assert win.act_predict.isEnabled()
    c = win.canvas
    first = win.current.path
    expected = _expected(tiny_model, first)
    ticks = []
    timer = QTimer(interval=5)
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start()
    win.act_predict.trigger()
    assert not win.act_predict.isEnabled() and win.cancel_button.isVisible()
    qtbot.waitUntil(gate["reached"].is_set, timeout=20000)
    # the worker is busy: the GUI thread still handles timers, zoom and painting
    n = len(ticks)
    qtbot.wait(60)
    assert len(ticks) > n
    scale = c.scale
    c.zoom_to(scale * 2, QPointF(10, 10))
    c.repaint()
    assert c.scale == scale * 2
    assert threading.get_ident() not in gate["threads"]
    with qtbot.waitSignal(win.predictionFinished, timeout=30000) as sig:
        gate["open"].set()
    assert sig.args == [False]
    assert np.array_equal(c.labels, expected)
    assert len(np.unique(expected)) >= 1
    assert win.current.history_length == 1 and win.current.undo_text() == "Prediction"
    qtbot.keyClick(c, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert (c.labels == CAMVID.ignore_index).all()
    qtbot.keyClick(c, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    assert np.array_equal(c.labels, expected)
    timer.stop()


def test_busy_until_the_results_have_reached_the_gui(make_window, image_folder, tiny_model, gate, qtbot):
    """The worker ends before its queued results are delivered: `busy` stays until they have been."""
    import time

    win = make_window(image_folder)
    win.prediction.select(tiny_model)
    seen = []
    win.prediction.imagePredicted.connect(lambda *_: seen.append(win.prediction.busy))
    win.act_predict.trigger()
    gate["open"].set()
    deadline = time.monotonic() + 30
    while win.prediction.runner.running() and time.monotonic() < deadline:
        time.sleep(0.01)  # no event processing: the result is still queued for the GUI thread
    assert not win.prediction.runner.running() and not seen
    assert win.prediction.busy and not win.act_predict.isEnabled()
    with qtbot.waitSignal(win.predictionFinished, timeout=30000):
        pass
    assert seen == [True] and not win.prediction.busy and win.act_predict.isEnabled()


def test_fill_only_unlabelled_and_result_for_image_left_meanwhile(make_window, image_folder, tiny_model, gate,
                                                                  qtbot):
    win = make_window(image_folder)
    win.prediction.select(tiny_model)
    c = win.canvas
    first = win.current.path
    win.current.polygon([(0, 0), (95, 0), (95, 9), (0, 9)], 4)
    assert (c.labels[:10] == 4).all()
    win.act_fill_only.setChecked(True)
    win.act_predict.trigger()
    qtbot.waitUntil(gate["reached"].is_set, timeout=20000)
    qtbot.keyClick(win, Qt.Key.Key_D)  # switch images while the worker runs
    assert win.current.path != first
    with qtbot.waitSignal(win.predictionFinished, timeout=30000):
        gate["open"].set()
    saved = read_label_png(win.project.mask_path(first))
    expected = _expected(tiny_model, first)
    assert (saved[:10] == 4).all()
    assert np.array_equal(saved[10:], expected[10:])


def test_cancel_stops_prediction_and_changes_nothing(make_window, image_folder, tiny_model, gate, qtbot):
    win = make_window(image_folder)
    win.prediction.select(tiny_model)
    c = win.canvas
    before = c.labels.copy()
    win.act_predict.trigger()
    qtbot.waitUntil(gate["reached"].is_set, timeout=20000)
    qtbot.mouseClick(win.cancel_button, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(win.predictionFinished, timeout=30000) as sig:
        gate["open"].set()
    assert sig.args == [True]
    assert np.array_equal(c.labels, before)
    assert win.current.history_length == 0
    assert win.act_predict.isEnabled() and not win.cancel_button.isVisible()


def test_predict_all_unlabelled_and_cancel_between_images(make_window, image_folder, tiny_model, gate, qtbot):
    win = make_window(image_folder)
    win.prediction.select(tiny_model)
    masks = image_folder / "SegmentationClass"
    gate["hold_at"] = 2  # hold the worker before the second image (batches of one on the CPU)
    win.act_predict_all.trigger()
    qtbot.waitUntil(gate["reached"].is_set, timeout=20000)
    win.cancel_prediction()  # checked before the next batch runs
    with qtbot.waitSignal(win.predictionFinished, timeout=30000) as sig:
        gate["open"].set()
    assert sig.args == [True]
    qtbot.waitUntil(lambda: not win.current.dirty)  # autosave of the current image
    assert [p.name for p in win.project.unlabelled_images()] == ["im1.png", "im2.png"]
    # run again: the rest is predicted and written, the current image is left alone
    with qtbot.waitSignal(win.predictionFinished, timeout=30000) as sig:
        win.act_predict_all.trigger()
    assert sig.args == [False]
    qtbot.waitUntil(lambda: not win.current.dirty)
    for i in range(3):
        path = image_folder / f"im{i}.png"
        assert np.array_equal(read_label_png(masks / f"im{i}.png"), _expected(tiny_model, path))
        assert win.file_list.state(win.project.images[i]).value == "predicted"
    assert win.current.history_length == 1  # the current image's prediction is one undo step
    win.act_predict_all.trigger()
    assert not win.prediction.busy
    assert "already has a mask" in win.statusBar().currentMessage()


def test_bad_checkpoint_is_reported_and_app_keeps_running(make_window, image_folder, tmp_path, qtbot):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a checkpoint")
    (tmp_path / "bad.json").write_text("{}")
    win = make_window(image_folder)
    win.prediction.select(bad)
    win.act_predict.trigger()
    assert not win.prediction.busy
    assert "bad.safetensors" in (win.last_error or "")
    assert win.canvas.has_image()


def test_model_menu_lists_found_models_and_selects_default(tmp_path, tiny_model, monkeypatch, studio_settings,
                                                            qtbot):
    import shutil

    from segstudio.gui.main_window import MainWindow

    shipped = tmp_path / "shipped"
    shipped.mkdir()
    for suffix in (".safetensors", ".json"):
        shutil.copy(tiny_model.with_suffix(suffix), shipped / ("fcn8s-lite0-camvid" + suffix))
    monkeypatch.setenv("SEGSTUDIO_SHIPPED_MODELS", str(shipped))
    monkeypatch.setenv("SEGSTUDIO_HOME", str(tmp_path / "home"))
    win = MainWindow(settings=studio_settings, scan_models=False)
    qtbot.addWidget(win)
    assert not win.act_predict.isEnabled() and "No model" in win.act_predict.toolTip()
    with qtbot.waitSignal(win.modelsReady, timeout=30000):
        win.prediction.scan()
    assert win.prediction.model_path == shipped / "fcn8s-lite0-camvid.safetensors"
    names = [a.text() for a in win.model_menu.actions()]
    assert "fcn8s-lite0-camvid" in names and "Load Checkpoint…" in names
    checked = [a.text() for a in win.model_menu.actions() if a.isCheckable() and a.isChecked()]
    assert checked == ["fcn8s-lite0-camvid"]
    assert win.act_predict.isEnabled()


def test_requested_model_path_is_selected_after_scan(tmp_path, tiny_model, monkeypatch, studio_settings, qtbot):
    from segstudio.gui.main_window import MainWindow

    monkeypatch.setenv("SEGSTUDIO_SHIPPED_MODELS", str(tmp_path / "none"))
    monkeypatch.setenv("SEGSTUDIO_HOME", str(tmp_path / "home"))
    win = MainWindow(settings=studio_settings, scan_models=False)
    qtbot.addWidget(win)
    win.prediction.requested = str(tiny_model)  # what `segstudio --model PATH` does
    with qtbot.waitSignal(win.modelsReady, timeout=30000):
        win.prediction.scan()
    assert win.prediction.model_path == tiny_model
    assert win.act_predict.isEnabled()


def test_predict_all_saves_confidence_that_survives_reopening(make_window, tmp_path, tiny_model, qtbot):
    from segstudio.core.assist.confidence_store import confidence_path, load_confidence
    from tests.gui.conftest import make_folder

    folder = make_folder(tmp_path / "two", n=2)
    win = make_window(folder)
    win.prediction.select(tiny_model)
    with qtbot.waitSignal(win.predictionFinished, timeout=60000) as sig:
        win.act_predict_all.trigger()
    assert sig.args == [False]
    masks = win.project.masks_dir
    qtbot.waitUntil(lambda: all(confidence_path(masks, f"im{i}").is_file() for i in range(2)), timeout=10000)
    qtbot.waitUntil(lambda: not win.current.dirty)
    win.close()

    again = make_window(folder)  # reopening the folder: both masks come with their confidence
    conf = again.assist.confidence
    for i in range(2):
        saved = load_confidence(masks, f"im{i}", size=(96, 64))
        assert saved is not None and saved.dtype == np.uint8 and saved.shape == (64, 96)
        assert 0 < saved.mean() < 255  # a real margin map, not a constant
        again.open_stem(f"im{i}")
        conf.act_heat.setChecked(True)
        qtbot.waitUntil(lambda: conf.conf is not None, timeout=5000)
        assert np.array_equal(conf.conf, saved)  # shown from the file, not recomputed
        conf.act_heat.setChecked(False)
    assert not conf.runner.running()


def test_prediction_scale_setting_reaches_the_predictor_and_persists(make_window, image_folder, tiny_model, qtbot,
                                                                     studio_settings, monkeypatch):
    from segstudio.gui.main_window import MainWindow

    win = make_window(image_folder)
    win.prediction.select(tiny_model)
    menu = win.scale_menu
    assert menu.menuAction() in win.model_menu.actions()  # Model → Prediction Scale
    assert menu.choice_actions[None].isChecked() and win.prediction.cache.scale is None  # Auto by default
    sizes = []
    orig = predictor_mod.Predictor._forward
    monkeypatch.setattr(predictor_mod.Predictor, "_forward", lambda self, x: (sizes.append(tuple(x.shape[2:])),
                                                                              orig(self, x))[1])
    menu.choice_actions[0.5].trigger()
    with qtbot.waitSignal(win.predictionFinished, timeout=30000):
        win.act_predict.trigger()
    assert sizes[-1] == (32, 48)  # the 96x64 image at half size
    menu.choice_actions[None].trigger()
    with qtbot.waitSignal(win.predictionFinished, timeout=30000):
        win.act_predict.trigger()
    assert sizes[-1] == (64, 96)  # the tiny model's card: no resize
    menu.choice_actions[0.25].trigger()
    win.close()
    again = MainWindow(settings=studio_settings, scan_models=False)  # a restart keeps the choice
    qtbot.addWidget(again)
    assert again.scale_menu.choice_actions[0.25].isChecked() and again.prediction.cache.scale == 0.25


def test_tta_setting_reaches_the_predictor_and_persists(make_window, image_folder, tiny_model, qtbot,
                                                        studio_settings, monkeypatch):
    from segstudio.gui.main_window import MainWindow

    win = make_window(image_folder)
    win.prediction.select(tiny_model)
    menu = win.tta_menu
    assert menu.menuAction() in win.model_menu.actions()  # Model → Test-Time Augmentation
    assert menu.choice_actions[None].isChecked() and win.prediction.cache.tta is None  # off by default
    inputs = []
    orig = predictor_mod.Predictor._forward
    monkeypatch.setattr(predictor_mod.Predictor, "_forward", lambda self, x: (inputs.append(x.clone()),
                                                                              orig(self, x))[1])
    menu.choice_actions["flip"].trigger()
    with qtbot.waitSignal(win.predictionFinished, timeout=30000):
        win.act_predict.trigger()
    assert len(inputs) == 2 and torch.equal(inputs[1], inputs[0].flip(-1))  # the image and its mirror image
    menu.choice_actions["flip+scales"].trigger()
    win.close()
    again = MainWindow(settings=studio_settings, scan_models=False)  # a restart keeps the choice
    qtbot.addWidget(again)
    assert again.tta_menu.choice_actions["flip+scales"].isChecked() and again.prediction.cache.tta == "flip+scales"
