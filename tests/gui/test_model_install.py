"""Installing a trained model never replaces a user model of the same name (issue 14)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from PySide6.QtCore import Qt

from segstudio import paths
from segstudio.nets import build_model
from segstudio.nets.checkpoint import load_checkpoint, make_card, read_card, save_checkpoint
from ..shapes_data import SHAPES_LABELSET, write_shapes_dataset


@pytest.fixture(autouse=True)
def own_home(tmp_path, monkeypatch):
    monkeypatch.setenv("SEGSTUDIO_HOME", str(tmp_path / "home"))


def _checkpoint(path, seed):
    torch.manual_seed(seed)
    model = build_model("segnet-basic", SHAPES_LABELSET.num_classes, width=0.125)
    return save_checkpoint(path, model, make_card("segnet-basic", 0.125, SHAPES_LABELSET))


def _snapshot(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_install_keeps_a_user_model_of_the_same_name_and_picks_a_free_one(tmp_path):
    from segstudio.gui.train_dialog import install_model

    mine = _checkpoint(paths.user_models_dir() / "shapes", seed=1)  # the user's own model
    _checkpoint(paths.user_models_dir() / "shapes-2", seed=2)
    before = _snapshot(paths.user_models_dir())
    trained = _checkpoint(tmp_path / "run" / "shapes", seed=3)
    installed = install_model(trained, "shapes")
    assert installed == paths.user_models_dir() / "shapes-3.safetensors"
    after = _snapshot(paths.user_models_dir())
    assert {k: v for k, v in after.items() if k in before} == before  # nothing replaced
    assert set(after) - set(before) == {"shapes-3.safetensors", "shapes-3.json"}
    assert installed.read_bytes() == trained.read_bytes()
    assert read_card(installed)["name"] == "shapes-3"
    load_checkpoint(installed)  # a usable model
    assert load_checkpoint(mine)[1]["name"] == "shapes"


def test_a_card_alone_also_takes_the_name(tmp_path):
    from segstudio.gui.train_dialog import install_model

    folder = paths.user_models_dir()
    folder.mkdir(parents=True)
    (folder / "lonely.json").write_text("{\"mine\": true}\n")  # someone's card without weights
    installed = install_model(_checkpoint(tmp_path / "run" / "lonely", seed=0), "lonely")
    assert installed.name == "lonely-2.safetensors"
    assert (folder / "lonely.json").read_text() == "{\"mine\": true}\n"


@pytest.fixture
def dialog(qtbot, tmp_path):
    from segstudio.gui.train_dialog import TrainDialog

    data = write_shapes_dataset(tmp_path / "data", n_train=6, n_val=0, size=(32, 24))
    dlg = TrainDialog(None, data / "images", data / "masks", SHAPES_LABELSET, lambda p: None)
    qtbot.addWidget(dlg)
    return dlg


def test_start_refuses_a_model_name_already_installed(qtbot, dialog):
    _checkpoint(paths.user_models_dir() / "taken", seed=0)
    before = _snapshot(paths.user_models_dir())
    dialog.name.setText("taken")
    qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    assert not dialog.running()
    text = dialog.status.text()
    assert "taken" in text and str(paths.user_models_dir()) in text and "already" in text
    assert _snapshot(paths.user_models_dir()) == before


def test_the_proposed_name_is_free(dialog):
    from segstudio.gui.train_dialog import TrainDialog

    proposed = dialog.name.text()
    _checkpoint(paths.user_models_dir() / proposed, seed=0)
    again = TrainDialog(None, dialog.images_dir, dialog.masks_dir, SHAPES_LABELSET, lambda p: None)
    assert again.name.text() == f"{proposed}-2"
    again.deleteLater()


def test_the_summary_says_when_the_model_got_another_name(tmp_path, dialog):
    """A model of the same name appeared while training ran: the summary names both."""
    from segstudio.gui.train_dialog import install_model

    _checkpoint(paths.user_models_dir() / "raced", seed=1)
    dialog._requested_name = "raced"
    installed = install_model(_checkpoint(tmp_path / "run" / "raced", seed=2), "raced")
    result = SimpleNamespace(stopped="finished", epochs_done=1, best_metrics={"mean_iou": 0.5}, last_metrics=None,
                             last_path=installed)
    dialog._on_succeeded((result, installed))
    text = dialog.status.text()
    assert "raced-2" in text and "a model named raced" in text and "kept" in text


def test_a_new_run_does_not_reuse_an_earlier_runs_folder(dialog):
    dialog.name.setText("again")
    earlier = paths.user_data_dir() / "training" / "again"
    earlier.mkdir(parents=True)
    (earlier / "again-last.safetensors").write_bytes(b"an earlier, cancelled run")
    cfg = dialog.make_config()
    assert cfg.out == str(paths.user_data_dir() / "training" / "again-run2")
    assert (earlier / "again-last.safetensors").read_bytes() == b"an earlier, cancelled run"
