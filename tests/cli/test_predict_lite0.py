"""An fcn8s-lite0 checkpoint goes through every prediction path: `segstudio models`, `segstudio
predict` (tiles, test-time augmentation, the card's working scale) and fp16 storage."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from segstudio.cli import main
from segstudio.core.imageio import read_label_png
from segstudio.core.labels import preset
from segstudio.nets import build_model
from segstudio.nets.checkpoint import load_checkpoint, make_card, save_checkpoint
from segstudio.nets.predictor import Predictor
from segstudio.nets.pretrained import LITE_INPUT


@pytest.fixture
def lite_path(tmp_path, monkeypatch):
    monkeypatch.setenv("SEGSTUDIO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SEGSTUDIO_SHIPPED_MODELS", str(tmp_path / "shipped"))
    torch.manual_seed(0)
    model = build_model("fcn8s-lite0", 11, width=0.25)
    torch.nn.init.normal_(model.classifier.weight, std=0.5)
    card = make_card("fcn8s-lite0", 0.25, preset("camvid"), input_norm={**LITE_INPUT, "train_short_side": 96},
                     metrics={"mean_iou": 0.5})
    return save_checkpoint(tmp_path / "home" / "models" / "lite-camvid", model, card)


def test_models_lists_it(lite_path, capsys):
    assert main(["models", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [m["card"]["arch"] for m in listed] == ["fcn8s-lite0"]


@pytest.mark.slow  # a real network over several views and tiles
def test_predict_at_the_working_scale_with_tiles_and_tta(lite_path, tmp_path, capsys):
    img = tmp_path / "in"
    img.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (300, 451, 3), dtype=np.uint8)).save(img / "a.png")
    for extra in ([], ["--tta", "flip"], ["--scale", "1", "--tile-size", "416"]):
        out = tmp_path / f"out{len(extra)}"
        assert main(["predict", "--model", "lite-camvid", str(img), "--out", str(out), *extra]) == 0, \
            capsys.readouterr()
        labels = read_label_png(out / "a.png")
        assert labels.shape == (300, 451) and labels.max() < 11


@pytest.mark.slow
def test_fp16_storage_keeps_the_labels(lite_path, tmp_path):
    model, card = load_checkpoint(lite_path)
    half = save_checkpoint(tmp_path / "half" / "lite-camvid", model, card, half=True)
    assert half.stat().st_size < 0.55 * lite_path.stat().st_size
    image = np.asarray(Image.open(Path(__file__).parents[1] / "data" / "chelsea.jpg"))
    a = Predictor.from_checkpoint(lite_path, device="cpu").predict(image)
    b = Predictor.from_checkpoint(half, device="cpu").predict(image)
    assert (a == b).mean() > 0.999
