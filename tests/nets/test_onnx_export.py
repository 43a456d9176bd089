"""ONNX export: every architecture through the dynamo exporter, checked with onnxruntime against torch
on the bundled sample images, with dynamic batch/height/width and the model card as metadata."""

import json

import numpy as np
import onnx
import pytest
import torch

from segstudio import paths
from segstudio.cli import main
from segstudio.core.errors import SegstudioError
from segstudio.core.imageio import list_images, load_image
from segstudio.core.labels import preset
from segstudio.nets import ARCHS, build_model
from segstudio.nets.checkpoint import make_card, save_checkpoint
from segstudio.nets.onnx_export import (INPUT_NAME, OUTPUT_NAME, card_input, label_agreement, ort_session,
                                        read_onnx_card, write_onnx)

SAMPLES = list_images(paths.DATA_DIR / "samples")


def _random_model(arch: str, seed: int = 0):
    torch.manual_seed(seed)
    # SegNet at 8 channels has so many tied pooling windows that rounding noise moves its
    # indices; 16 is still small and behaves like a real model.
    width = 0.25 if arch.startswith("segnet") else 0.125
    model = build_model(arch, 11, width=width)
    for name, m in model.named_children():
        if name.startswith("score"):  # FCN scores start at zero: random ones give real labels to compare
            torch.nn.init.normal_(m.weight, std=0.5)
    for m in model.modules():
        if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)) and m.bias is not None:
            torch.nn.init.normal_(m.bias, std=0.3)  # zero biases leave exact ties between classes
        if isinstance(m, torch.nn.BatchNorm2d):  # non-trivial statistics, folded differently by ORT
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
    # Class priors as a trained classifier has them. Flat image regions give exactly tied
    # max-pooling windows in torch; ORT's convolutions round differently by position, so SegNet
    # unpools a few values elsewhere there, and a random net's near-tied logits flip (measured:
    # up to 0.06 % of the pixels for some seeds; adding 1e-3 noise to the input removes it). The
    # exact check of the graph is the logits comparison on random input in the test below.
    classifier = {"segnet": "conv1_1_D", "segnet-basic": "conv_classifier",
                  "fcn8s-lite0": "classifier"}.get(arch, "score_fr")
    torch.nn.init.normal_(getattr(model, classifier).bias, std=1.0)
    card = make_card(arch, width, preset("camvid"), name=f"tiny-{arch}",
                     input_norm={"channel_order": "RGB", "scale": 1 / 255, "mean": [0.4, 0.4, 0.4],
                                 "std": [0.25, 0.25, 0.25], "resize": 0.5})
    return model.eval(), card


def test_the_bundled_samples_exist():
    assert len(SAMPLES) >= 3


@pytest.mark.slow
@pytest.mark.parametrize("arch", list(ARCHS))
def test_export_every_architecture_agrees_with_torch(tmp_path, arch):
    model, card = _random_model(arch)
    out = write_onnx(model, card, tmp_path / f"{arch}.onnx")
    proto = onnx.load(str(out))
    onnx.checker.check_model(proto)
    dims = [[d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]
            for v in (proto.graph.input[0], proto.graph.output[0])]
    assert dims == [["batch", 3, "height", "width"], ["batch", 11, "height", "width"]]
    assert (proto.graph.input[0].name, proto.graph.output[0].name) == (INPUT_NAME, OUTPUT_NAME)
    assert read_onnx_card(out) == card
    session = ort_session(out)
    for path in SAMPLES:  # 360x480 samples at the card's resize 0.5: 180x240
        x = card_input(load_image(path), card)
        assert x.shape == (1, 3, 180, 240)
        assert label_agreement(model, session, x) >= 0.9999
    # Another batch size and an odd size go through the same file.
    x = np.random.default_rng(1).normal(size=(2, 3, 75, 131)).astype(np.float32)
    got = session.run([OUTPUT_NAME], {INPUT_NAME: x})[0]
    with torch.inference_mode():
        ref = model(torch.from_numpy(x)).numpy()
    assert got.shape == ref.shape == (2, 11, 75, 131)
    assert np.abs(got - ref).max() <= 1e-3 * max(1.0, float(np.abs(ref).max()))


@pytest.mark.slow
def test_export_model_command(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SEGSTUDIO_HOME", str(tmp_path / "home"))
    model, card = _random_model("segnet-basic")
    weights = save_checkpoint(tmp_path / "home" / "models" / "tiny-sb", model, card)
    foreign = tmp_path / "theirs.onnx"
    foreign.write_bytes(b"not mine")
    assert main(["export-model", "tiny-sb", "--format", "onnx", "--out", str(foreign)]) == 2
    assert "not overwriting" in capsys.readouterr().err and foreign.read_bytes() == b"not mine"

    out = tmp_path / "exports" / "tiny.onnx"
    assert main(["export-model", str(weights), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert f"agrees with torch on >= " in err and f"of {len(SAMPLES)} sample(s)" in err
    meta = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert json.loads(meta["segstudio.card"])["name"] == "tiny-sb"
    assert json.loads(meta["segstudio.card"])["labelset"] == card["labelset"]
    # Its own earlier export may be replaced; nothing is left beside it.
    assert main(["export-model", "tiny-sb", "--out", str(out), "--no-check"]) == 0
    assert sorted(p.name for p in out.parent.iterdir()) == ["tiny.onnx"]


def test_a_folder_or_foreign_file_is_never_replaced(tmp_path):
    model, card = _random_model("segnet-basic")
    (tmp_path / "dir.onnx").mkdir()
    text = tmp_path / "notes.onnx"
    text.write_text("keep me")
    for target in (tmp_path / "dir.onnx", text):
        with pytest.raises(SegstudioError, match="not overwriting"):
            write_onnx(model, card, target)
    assert text.read_text() == "keep me"
