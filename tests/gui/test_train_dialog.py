"""The training dialog: a one-epoch job on a worker thread, live chart, new model, Cancel."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt, QTimer

from segstudio import paths
from segstudio.nets.checkpoint import load_checkpoint
from ..shapes_data import SHAPES_LABELSET, write_shapes_dataset


@pytest.fixture(autouse=True)
def own_home(tmp_path, monkeypatch):
    """Models trained here go to this test's own user folder, not the session's shared one."""
    monkeypatch.setenv("SEGSTUDIO_HOME", str(tmp_path / "home"))


@pytest.fixture
def folder(tmp_path):
    return write_shapes_dataset(tmp_path / "data", n_train=6, n_val=0, size=(32, 24))


def make_dialog(qtbot, folder, ready):
    from segstudio.gui.train_dialog import TrainDialog

    dlg = TrainDialog(None, folder / "images", folder / "masks", SHAPES_LABELSET, ready.append)
    qtbot.addWidget(dlg)
    dlg.show()
    dlg.arch.setCurrentIndex(dlg.arch.findData("segnet-basic"))
    dlg.width_spin.setValue(0.125)
    dlg.scale.setCurrentIndex(dlg.scale.findData(1.0))
    dlg.batch.setValue(2)
    return dlg


@pytest.mark.slow  # trains a network
def test_one_epoch_job_runs_on_a_worker_plots_and_adds_the_model(qtbot, folder):
    ready = []
    dlg = make_dialog(qtbot, folder, ready)
    assert "6 annotated image(s)" in dlg.data_label.text()
    assert dlg.val_share.value() == 20  # a validation share is proposed for 5+ images
    dlg.epochs.setValue(1)
    dlg.lr.setText("0.002")
    dlg.name.setText("my-shapes")
    ticks = []
    timer = QTimer(dlg)
    timer.timeout.connect(lambda: ticks.append(dlg.running()))
    timer.start(5)
    qtbot.mouseClick(dlg.start_button, Qt.MouseButton.LeftButton)
    assert dlg.running() and not dlg.start_button.isEnabled() and dlg.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: not dlg.running(), timeout=60000)
    timer.stop()
    assert any(ticks), "the GUI thread's timer never fired while training ran"
    # live plot: loss per step, validation mIoU per epoch
    xs, ys = dlg.chart.series("loss")
    assert len(xs) == 3 and all(y > 0 for y in ys)  # 5 training images, batch 2
    assert len(dlg.chart.series("val mIoU")[0]) == 1
    assert dlg.result.stopped == "finished" and dlg.result.epochs_done == 1
    # the new model is in the user's models folder and handed to the main window
    expected = paths.user_models_dir() / "my-shapes.safetensors"
    assert ready == [expected]
    model, card = load_checkpoint(expected)
    assert card["name"] == "my-shapes" and card["labelset"]["name"] == "shapes"
    assert "my-shapes" in dlg.status.text()
    assert dlg.start_button.isEnabled() and not dlg.cancel_button.isEnabled()
    assert dlg.lr.text() == "0.002"  # the user's settings stay for the next run
    assert card["training"]["recipe"]["lr"] == 0.002 and card["training"]["recipe"]["optimizer"] == "adamw"
    # it is offered as a starting point next time
    from segstudio.gui.train_dialog import TrainDialog

    again = TrainDialog(None, folder / "images", folder / "masks", SHAPES_LABELSET, ready.append)
    qtbot.addWidget(again)
    assert any(again.start_from.itemData(i) == str(expected) for i in range(again.start_from.count()))
    again.start_from.setCurrentIndex(again.start_from.findData(str(expected)))
    assert not again.arch.isEnabled() and again.lr.text() == "0.0001"  # fine-tuning defaults
    cfg = again.make_config()
    assert cfg.init == str(expected) and cfg.arch is None and cfg.labels == SHAPES_LABELSET.to_dict()


@pytest.mark.slow  # trains a network
def test_cancel_stops_the_worker_cleanly(qtbot, folder):
    ready = []
    dlg = make_dialog(qtbot, folder, ready)
    dlg.epochs.setValue(1000)
    dlg.name.setText("cancelled-run")
    qtbot.mouseClick(dlg.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(dlg.losses[0]) >= 2, timeout=60000)
    qtbot.mouseClick(dlg.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dlg.running(), timeout=60000)
    assert dlg.result is not None and dlg.result.stopped == "cancelled"
    assert dlg.result.epochs_done < 1000
    assert ready == [] and not (paths.user_models_dir() / "cancelled-run.safetensors").exists()
    assert "Cancelled" in dlg.status.text()
    load_checkpoint(dlg.result.last_path)  # the partial run left a usable checkpoint
    assert dlg.start_button.isEnabled()


def test_bad_settings_are_reported_without_starting(qtbot, folder):
    dlg = make_dialog(qtbot, folder, [])
    dlg.lr.setText("fast")
    qtbot.mouseClick(dlg.start_button, Qt.MouseButton.LeftButton)
    assert not dlg.running() and "learning rate must be a number" in dlg.status.text()
    dlg.lr.setText("0.001")
    dlg.name.setText("bad name/")
    qtbot.mouseClick(dlg.start_button, Qt.MouseButton.LeftButton)
    assert not dlg.running() and "model name" in dlg.status.text()


def test_a_folder_without_masks_cannot_start(qtbot, tmp_path):
    from segstudio.gui.train_dialog import TrainDialog

    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    dlg = TrainDialog(None, tmp_path / "images", tmp_path / "masks", SHAPES_LABELSET, lambda p: None)
    qtbot.addWidget(dlg)
    assert "0 annotated image(s)" in dlg.data_label.text() and not dlg.start_button.isEnabled()


@pytest.mark.slow  # trains a network
def test_train_from_the_main_window_then_predict_with_the_new_model(make_window, qtbot, folder):
    """Model → Train on My Annotations…: the trained model is selected and predicts at once."""
    win = make_window(folder / "images", labels=SHAPES_LABELSET, masks=folder / "masks")
    win.act_train.trigger()
    from segstudio.gui.train_dialog import TrainDialog

    dlg = next(d for d in win.dialogs.open_dialogs if isinstance(d, TrainDialog))
    assert dlg.isVisible() and not dlg.isModal()
    dlg.arch.setCurrentIndex(dlg.arch.findData("segnet-basic"))
    dlg.width_spin.setValue(0.125)
    dlg.epochs.setValue(1)
    dlg.batch.setValue(2)
    dlg.name.setText("from-window")
    qtbot.mouseClick(dlg.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dlg.running(), timeout=60000)
    expected = paths.user_models_dir() / "from-window.safetensors"
    assert win.prediction.model_path == expected
    assert expected in [p for _, p in win.prediction.models]
    assert win.act_predict.isEnabled()
    with qtbot.waitSignal(win.predictionFinished, timeout=30000) as sig:
        win.act_predict.trigger()
    assert sig.args == [False]
    assert win.canvas.labels.max() < 3  # the new model's classes
    dlg.close()


@pytest.mark.slow  # trains a network
def test_closing_the_dialog_mid_run_stops_the_trainer(qtbot, folder):
    dlg = make_dialog(qtbot, folder, [])
    dlg.epochs.setValue(1000)
    dlg.name.setText("closed-run")
    qtbot.mouseClick(dlg.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(dlg.losses[0]) >= 1, timeout=60000)
    dlg.close()
    assert not dlg.runner.thread.is_alive() and dlg.runner.cancel_requested()
    qtbot.waitUntil(lambda: not dlg.running(), timeout=10000)
    assert dlg.result is not None and dlg.result.stopped == "cancelled", dlg.status.text()


@pytest.mark.slow  # trains a network
def test_the_defaults_train_the_pretrained_model_within_the_time_budget_and_list_it(make_window, qtbot, folder):
    """Untouched settings: FCN-8s on the ImageNet Lite0 encoder, a time budget, the new model in the menu."""
    win = make_window(folder / "images", labels=SHAPES_LABELSET, masks=folder / "masks")
    win.act_train.trigger()
    from segstudio.gui.train_dialog import TrainDialog

    dlg = next(d for d in win.dialogs.open_dialogs if isinstance(d, TrainDialog))
    assert dlg.arch.currentData() == "fcn8s-lite0" and dlg.width_spin.value() == 1.0
    assert dlg.scale.currentData() == "auto" and dlg.minutes.value() == 5.0
    cfg = dlg.make_config()
    assert (cfg.arch, cfg.encoder_lr_mult, cfg.short_side, cfg.max_minutes) == ("fcn8s-lite0", 0.1, 360, 5.0)
    assert (cfg.batch_size, cfg.epochs) == (8, 1000)  # the recipe's, as `segstudio train` uses them
    dlg.arch.setCurrentIndex(dlg.arch.findData("segnet-basic"))
    assert (dlg.batch.value(), dlg.epochs.value(), dlg.width_spin.value()) == (4, 200, 0.5)
    dlg.arch.setCurrentIndex(dlg.arch.findData("fcn8s-lite0"))
    dlg.minutes.setValue(0.5)  # the run ends, finished, within half a minute
    dlg.scale.setCurrentIndex(dlg.scale.findData(1.0))  # the 32x24 images at their own size
    dlg.name.setText("lite-shapes")
    qtbot.mouseClick(dlg.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dlg.running(), timeout=120000)
    assert dlg.result.stopped in ("finished", "time budget") and dlg.result.wall_time_s < 45
    assert dlg.bar.value() == dlg.bar.maximum()
    expected = paths.user_models_dir() / "lite-shapes.safetensors"
    assert win.prediction.model_path == expected and expected in [p for _, p in win.prediction.models]
    _, card = load_checkpoint(expected)
    assert card["arch"] == "fcn8s-lite0" and card["training"]["pretrained"].startswith("EfficientNet-Lite0")
    with qtbot.waitSignal(win.predictionFinished, timeout=30000):
        win.act_predict.trigger()
    assert win.canvas.labels.max() < 3
    dlg.close()
