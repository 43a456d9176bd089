"""ONNX files where segstudio expects something else (issue 25 item 2): a foreign, truncated or
segstudio-made .onnx given as a model is refused with a message naming it; a damaged or foreign file in
the ONNX cache is checked, removed and predictions go on with torch (no crash, no traceback)."""

import json
import logging

import numpy as np
import pytest
import torch
from PIL import Image

from segstudio.cli import main
from segstudio.core.labels import preset
from segstudio.nets import build_model
from segstudio.nets.backends import BackendSwitch, _cache_files, prepare_onnxruntime
from segstudio.nets.checkpoint import make_card, read_card, resolve_model, save_checkpoint
from segstudio.nets.errors import ModelError


@pytest.fixture(scope="module")
def foreign_bytes(tmp_path_factory):
    """A valid ONNX model that is not a segmentation network (a 4 -> 2 linear layer)."""
    path = tmp_path_factory.mktemp("onnx") / "linear.onnx"
    torch.onnx.export(torch.nn.Linear(4, 2), torch.zeros(1, 4), str(path), dynamo=False)
    return path.read_bytes()


@pytest.fixture
def foreign_onnx(tmp_path, foreign_bytes):
    path = tmp_path / "foreign.onnx"
    path.write_bytes(foreign_bytes)
    return path


@pytest.fixture
def tiny():
    torch.manual_seed(0)
    model = build_model("segnet-basic", 11, width=0.125).eval()
    return model, make_card("segnet-basic", 0.125, preset("camvid"), name="tiny-onnx")


@pytest.mark.parametrize("kind", ["foreign", "truncated", "with a card beside it"])
def test_an_onnx_file_given_as_a_model_is_refused(tmp_path, foreign_onnx, tiny, capsys, kind):
    model = foreign_onnx
    if kind == "truncated":
        model = tmp_path / "cut.onnx"
        model.write_bytes(foreign_onnx.read_bytes()[:100])
    elif kind == "with a card beside it":
        (tmp_path / "foreign.json").write_text(json.dumps(tiny[1]))
    with pytest.raises(ModelError, match="an ONNX file is not a segstudio checkpoint"):
        resolve_model(model)
    with pytest.raises(ModelError, match=str(model)):
        read_card(model)
    image = tmp_path / "a.png"
    Image.fromarray(np.zeros((6, 9, 3), np.uint8)).save(image)
    rc = main(["predict", "--model", str(model), "--quiet", "--out", str(tmp_path / "out"), str(image)])
    err = capsys.readouterr().err
    assert rc == 2 and str(model) in err and "export-model" in err and "Traceback" not in err


def test_an_onnx_file_renamed_as_safetensors_is_refused_naming_it(tmp_path, foreign_onnx, tiny):
    weights = save_checkpoint(tmp_path / "m" / "fake", tiny[0], tiny[1])
    weights.write_bytes(foreign_onnx.read_bytes())
    from segstudio.nets.checkpoint import load_checkpoint

    with pytest.raises(ModelError, match="fake.safetensors: not a readable safetensors file"):
        load_checkpoint(weights)


@pytest.mark.slow  # onnxruntime's first session
@pytest.mark.parametrize("damage", ["truncated", "foreign", "empty"])
def test_a_damaged_cached_export_is_removed_and_torch_predicts(tmp_path, monkeypatch, foreign_onnx, tiny, caplog,
                                                               damage):
    monkeypatch.setenv("SEGSTUDIO_CACHE", str(tmp_path / "cache"))
    model, card = tiny
    onnx_path, verdict_path = _cache_files(model, card)
    onnx_path.parent.mkdir(parents=True)
    data = {"truncated": foreign_onnx.read_bytes()[:60], "foreign": foreign_onnx.read_bytes(), "empty": b""}[damage]
    onnx_path.write_bytes(data)
    verdict_path.write_text(json.dumps({"agreement": 1.0, "name": "tiny-onnx"}))
    with caplog.at_level(logging.WARNING):
        assert prepare_onnxruntime(model, card, cached_only=True) is None
    assert str(onnx_path) in caplog.text and "removed, exported again" in caplog.text
    assert not onnx_path.exists() and not verdict_path.exists()

    onnx_path.write_bytes(data)
    verdict_path.write_text(json.dumps({"agreement": 1.0}))
    switch = BackendSwitch(model, card, backend="auto")
    assert switch.active == "torch"
    x = torch.randn(1, 3, 24, 32)
    with torch.inference_mode():
        assert torch.equal(switch(x), model(x))
