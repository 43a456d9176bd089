"""`segstudio train` from the command line: per-epoch lines, recipes, resume, errors."""

from __future__ import annotations

import json

import pytest

from segstudio.cli import main
from segstudio.nets.checkpoint import read_card
from ..shapes_data import SHAPES_LABELSET, write_shapes_dataset

pytestmark = pytest.mark.slow  # trains networks


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = write_shapes_dataset(tmp_path_factory.mktemp("cli"), n_train=6, n_val=2, size=(32, 24), layout="camvid")
    SHAPES_LABELSET.save(root / "labels.json")
    return root


COMMON = ["--arch", "segnet-basic", "--width", "0.125", "--batch-size", "2", "--threads", "1", "--quiet"]


def test_train_on_a_camvid_layout_prints_epochs_and_writes_checkpoints(data, tmp_path, capsys):
    out = tmp_path / "run"
    rc = main(["train", *COMMON, "--data", str(data), "--labels", str(data / "labels.json"), "--out", str(out),
               "--epochs", "2", "--scale", "0.5", "--hflip", "--class-weights", "median-freq", "--name", "demo"])
    text = capsys.readouterr().out
    assert rc == 0, text
    assert "6 training / 2 validation images" in text and "scale 0.5" in text
    assert len([line for line in text.splitlines() if line.startswith("epoch ")]) == 2
    assert "val pixel acc" in text and "mIoU" in text
    assert "best: " in text and str(out / "demo.safetensors") in text
    assert text.count("saved best so far") >= 1
    card = read_card(out / "demo.safetensors")
    assert card["name"] == "demo" and card["training"]["resolution"] == {"scale": 0.5}
    assert card["input"]["resize"] == 0.5  # the predictor shrinks images the same way
    # the validation figures are those of the predictor on the images (full-size masks, nearest-resized)
    import numpy as np

    from segstudio.core.imageio import load_image, read_label_png
    from segstudio.core.metrics import ConfusionMatrix
    from segstudio.nets.predictor import Predictor

    pred = Predictor.from_checkpoint(out / "demo.safetensors", device="cpu")
    cm = ConfusionMatrix(3)
    for stem in ("val_000", "val_001"):
        labels = pred.predict(load_image(data / "val" / f"{stem}.png"))
        assert labels.shape == (24, 32)
        gt = read_label_png(data / "valannot" / f"{stem}.png")
        cm.update(gt[::2, ::2], labels[::2, ::2])  # 2x nearest downscale = the trainer's validation masks
    assert np.isclose(cm.scores().pixel_accuracy, card["metrics"]["pixel_accuracy"], atol=0.15)
    assert card["training"]["recipe"]["hflip"] is True
    assert len(card["training"]["data"]["class_weights"]) == 3
    assert set(card["metrics"]) >= {"pixel_accuracy", "mean_accuracy", "mean_iou"}


def test_config_file_reruns_and_options_override_it(data, tmp_path, capsys):
    recipe = tmp_path / "r.toml"
    recipe.write_text('arch = "segnet-basic"\nwidth = 0.125\nepochs = 1\nbatch_size = 3\nlr = 0.02\n'
                      'optimizer = "adamw"\nthreads = 1\nlabels = "%s"\n' % (data / "labels.json"))
    rc = main(["train", "--config", str(recipe), "--data", str(data), "--out", str(tmp_path / "a"),
               "--lr", "0.01", "--quiet"])
    assert rc == 0
    written = json.loads((tmp_path / "a" / "train-config.json").read_text())["config"]
    assert written["batch_size"] == 3 and written["optimizer"] == "adamw" and written["lr"] == 0.01
    # the written config reruns the same recipe
    rc = main(["train", "--config", str(tmp_path / "a" / "train-config.json"), "--out", str(tmp_path / "b"),
               "--quiet"])
    assert rc == 0
    again = json.loads((tmp_path / "b" / "train-config.json").read_text())["config"]
    assert {k: v for k, v in again.items() if k != "out"} == {k: v for k, v in written.items() if k != "out"}
    capsys.readouterr()


def test_resume_continues_and_refuses_changed_settings(data, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", *COMMON, "--data", str(data), "--labels", str(data / "labels.json"), "--out", str(out),
                 "--epochs", "1"]) == 0
    capsys.readouterr()
    assert main(["train", "--resume", str(out), "--epochs", "2", "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "resuming after epoch 1 of 2" in text
    assert [line.split()[1] for line in text.splitlines() if line.startswith("epoch ")] == ["2/2"]
    assert read_card(out / "segnet-basic-shapes-last.safetensors")["training"]["epochs"] == 2
    assert main(["train", "--resume", str(out), "--lr", "0.5"]) == 2
    assert "--lr" in capsys.readouterr().err


@pytest.mark.parametrize("args, message", [
    (["--images", "nowhere", "--masks", "nowhere", "--labels", "voc"], "nowhere: image folder not found"),
    (["--labels", "voc"], "give a data root, or both an image folder and a mask folder"),
    (["--images", ".", "--masks", "."], "no label set"),
    (["--size", "big", "--labels", "voc"], "size must be WIDTHxHEIGHT"),
    (["--class-weights", "1,x", "--labels", "voc"], "--class-weights must be"),
    (["--epochs", "0", "--labels", "voc"], "epochs must be at least 1"),
])
def test_user_errors_are_one_line(tmp_path, capsys, args, message, data):
    if "--size" in args or "--class-weights" in args:
        args = args + ["--data", str(data)]
    rc = main(["train", "--arch", "segnet-basic", "--out", str(tmp_path / "o"), *args])
    err = capsys.readouterr().err
    assert rc == 2 and message in err and err.startswith("segstudio train: error:")


def _train_without_arch(data, out, capsys, *extra) -> dict:
    """`segstudio train` on the shapes folders with neither --arch nor --init; the written card."""
    rc = main(["train", "--images", str(data / "train"), "--masks", str(data / "trainannot"),
               "--labels", str(data / "labels.json"), "--out", str(out), "--threads", "1", "--quiet", *extra])
    text = capsys.readouterr().out
    assert rc == 0, text
    card = read_card(out / "fcn8s-lite0-shapes.safetensors")
    card["printed"] = text
    return card


def test_without_arch_or_init_a_new_run_trains_the_pretrained_default(data, tmp_path, capsys):
    card = _train_without_arch(data, tmp_path / "default", capsys, "--epochs", "2", "--short-side", "48",
                               "--crop", "40x40")
    assert "EfficientNet-Lite0 ImageNet weights" in card["printed"] and "sha256 verified" in card["printed"]
    recipe = card["training"]["recipe"]
    assert card["arch"] == "fcn8s-lite0" and card["training"]["pretrained"].startswith("EfficientNet-Lite0")
    assert (recipe["optimizer"], recipe["encoder_lr_mult"], recipe["max_minutes"]) == ("adamw", 0.1, 10.0)
    assert card["training"]["resolution"] == {"short_side": 48}
    assert card["input"]["mean"] == [127.0] * 3 and card["input"]["train_short_side"] == 48
    # an explicit --scale replaces the default short side; --pretrained none starts from random weights
    card = _train_without_arch(data, tmp_path / "scaled", capsys, "--epochs", "1", "--scale", "0.5",
                               "--pretrained", "none")
    assert card["training"]["resolution"] == {"scale": 0.5} and card["training"]["pretrained"] is None
