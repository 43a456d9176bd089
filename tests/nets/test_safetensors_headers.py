"""safetensors headers that claim absurd sizes are refused without allocating (issue 14 item 5)."""

import json
import struct
import subprocess
import sys

import pytest
import torch
from safetensors.torch import save_file

from segstudio.nets.errors import ModelError
from segstudio.nets.safeload import check_safetensors_header, load_safetensors


def _write(path, header, data=b"", claimed=None):
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw) if claimed is None else claimed) + raw + data)
    return path


def test_a_real_file_passes_and_loads(tmp_path):
    p = tmp_path / "ok.safetensors"
    save_file({"w": torch.arange(6, dtype=torch.float32).reshape(2, 3), "b": torch.ones(4, dtype=torch.float16)},
              str(p), metadata={"card": "{}"})
    header = check_safetensors_header(p)
    assert header["w"]["shape"] == [2, 3] and header["__metadata__"] == {"card": "{}"}
    tensors, meta = load_safetensors(p)
    assert torch.equal(tensors["w"], torch.arange(6, dtype=torch.float32).reshape(2, 3)) and meta == {"card": "{}"}


@pytest.mark.parametrize("header, data, claimed, why", [
    ({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, bytes(8), 2 ** 62, "header claims"),
    ({"w": {"dtype": "F32", "shape": [2 ** 31, 2 ** 31], "data_offsets": [0, 8]}}, bytes(8), None, "claims 18,446,744,073,709,551,616 bytes"),
    ({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8_000_000_000]}}, bytes(8), None, "holds 8 bytes"),
    ({"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, bytes(8), None, "12 bytes of data"),
    ({"w": {"dtype": "X99", "shape": [2], "data_offsets": [0, 8]}}, bytes(8), None, "unknown dtype"),
    ({"w": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}}, bytes(8), None, "malformed shape"),
    ({"w": [[[[[[[[[[1]]]]]]]]]]}, b"", None, "nested"),
])
def test_absurd_headers_are_refused_with_the_file_named(tmp_path, header, data, claimed, why):
    p = _write(tmp_path / "bad.safetensors", header, data, claimed)
    with pytest.raises(ModelError, match=f"bad.safetensors.*{why}"):
        load_safetensors(p)


@pytest.mark.slow  # the child imports torch (~5 s)
def test_a_sparse_file_claiming_20_gib_is_refused_under_a_memory_cap(tmp_path):
    n = 20 << 30
    p = _write(tmp_path / "huge.safetensors", {"w": {"dtype": "U8", "shape": [n], "data_offsets": [0, n]}})
    with open(p, "r+b") as f:
        f.truncate(p.stat().st_size + n)  # sparse: no disk used, but the sizes agree
    code = ("import resource, sys\n"
            "resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))\n"
            "from segstudio.nets.safeload import load_safetensors\n"
            "from segstudio.nets.errors import ModelError\n"
            "try:\n    load_safetensors(sys.argv[1])\nexcept ModelError as e:\n    print(e)\n    sys.exit(2)\n")
    run = subprocess.run([sys.executable, "-c", code, str(p)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 2, run.stderr[-2000:]
    assert "huge.safetensors: tensor 'w' claims 21,474,836,480 bytes" in run.stdout


def test_a_hostile_model_card_is_reported_and_the_other_models_still_listed(tmp_path, monkeypatch, capsys):
    from segstudio.cli import main
    from segstudio.nets.checkpoint import find_models, read_card, unreadable_models

    models = tmp_path / "home" / "models"
    models.mkdir(parents=True)
    monkeypatch.setenv("SEGSTUDIO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SEGSTUDIO_SHIPPED_MODELS", str(tmp_path / "none"))
    save_file({"w": torch.zeros(2)}, str(models / "evil.safetensors"))
    (models / "evil.json").write_text("[" * 100_000 + "]" * 100_000)
    deep_meta = "[" * 5000 + "]" * 5000
    save_file({"w": torch.zeros(2)}, str(models / "lost.safetensors"), metadata={"segstudio.card": deep_meta})
    assert find_models() == []
    problems = dict((p.name, why) for p, why in unreadable_models())
    assert "JSON nested 100000 levels deep" in problems["evil.safetensors"]
    with pytest.raises(ModelError, match="embedded in the weights.*nested 5000 levels"):
        read_card(models / "lost.safetensors")
    assert main(["models"]) == 0
    assert "evil.json: cannot read the model card (JSON nested" in capsys.readouterr().err
