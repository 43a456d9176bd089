"""`segstudio export-model --out`: never replaces an entry it did not create, symbolic links included (issue 14)."""

from __future__ import annotations

import os

import onnx
import pytest
import torch
from onnx import TensorProto, helper

from segstudio.cli import main
from segstudio.nets import build_model
from segstudio.nets.checkpoint import make_card, save_checkpoint
from segstudio.nets.onnx_export import CARD_METADATA_KEY, FORMAT_NAME
from ..shapes_data import SHAPES_LABELSET


@pytest.fixture
def model(tmp_path, monkeypatch):
    monkeypatch.setenv("SEGSTUDIO_HOME", str(tmp_path / "home"))
    torch.manual_seed(0)
    net = build_model("segnet-basic", SHAPES_LABELSET.num_classes, width=0.125)
    return save_checkpoint(tmp_path / "home" / "models" / "tiny", net, make_card("segnet-basic", 0.125,
                                                                                  SHAPES_LABELSET))


def _onnx_file(path, segstudio_made: bool):
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    proto = helper.make_model(graph)
    if segstudio_made:
        for key, value in (("segstudio.format", FORMAT_NAME), (CARD_METADATA_KEY, '{"name": "old"}')):
            entry = proto.metadata_props.add()
            entry.key, entry.value = key, value
    onnx.save(proto, str(path))
    return path


def _entries(folder):
    return {p.name: (os.readlink(p) if p.is_symlink() else p.read_bytes()) for p in sorted(folder.iterdir())}


@pytest.mark.parametrize("target", ["nowhere.onnx", "old-export.onnx"])
def test_a_symbolic_link_at_out_is_not_replaced(model, tmp_path, capsys, target):
    folder = tmp_path / "exports"
    folder.mkdir()
    _onnx_file(folder / "old-export.onnx", segstudio_made=True)
    link = folder / "model.onnx"
    os.symlink(folder / target, link)
    before = _entries(folder)
    assert main(["export-model", "tiny", "--out", str(link), "--no-check"]) == 2
    err = capsys.readouterr().err
    assert str(link) in err and str(folder / target) in err and "symbolic link" in err, err
    assert _entries(folder) == before


@pytest.mark.parametrize("what", ["foreign-onnx", "checkpoint", "card", "folder"])
def test_an_existing_file_segstudio_did_not_export_is_not_replaced(model, tmp_path, capsys, what):
    out = {"foreign-onnx": tmp_path / "theirs.onnx", "checkpoint": model, "card": model.with_suffix(".json"),
           "folder": tmp_path / "dir.onnx"}[what]
    if what == "foreign-onnx":
        _onnx_file(out, segstudio_made=False)
    elif what == "folder":
        out.mkdir()
    before = out.read_bytes() if out.is_file() else None
    assert main(["export-model", "tiny", "--out", str(out), "--no-check"]) == 2
    assert "not overwriting" in capsys.readouterr().err
    assert (out.read_bytes() if out.is_file() else None) == before
