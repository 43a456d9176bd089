"""The CPU backend choice: torch, onnxruntime (exported once per weights, cached) and auto."""

import json

import numpy as np
import pytest
import torch

from segstudio.core.labels import preset
from segstudio.nets import build_model
from segstudio.nets.backends import BackendSwitch, prepare_onnxruntime
from segstudio.nets.checkpoint import make_card
from segstudio.nets.errors import ModelError
from segstudio.nets.onnx_export import cache_dir, weights_digest
from segstudio.nets.predictor import Predictor


@pytest.fixture(scope="module")
def model_and_card():
    torch.manual_seed(0)
    model = build_model("segnet-basic", 11, width=0.25).eval()
    for m in model.modules():
        if isinstance(m, torch.nn.Conv2d):
            torch.nn.init.normal_(m.bias, std=0.3)
    card = make_card("segnet-basic", 0.25, preset("camvid"), name="tiny-backend",
                     input_norm={"channel_order": "RGB", "scale": 1 / 255, "mean": [0.4] * 3, "std": [0.25] * 3,
                                 "resize": 0.5})
    return model, card


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SEGSTUDIO_CACHE", str(folder))
        yield folder


def _images(n=3, h=96, w=128):
    rng = np.random.default_rng(5)
    base = rng.integers(0, 256, (h // 8, w // 8, 3), dtype=np.uint8)  # blocky, like real scenes
    return [np.kron(np.roll(base, i, axis=1), np.ones((8, 8, 1), np.uint8)) for i in range(n)]


def test_unknown_backend_is_refused(model_and_card):
    with pytest.raises(ModelError, match="backend must be one of"):
        BackendSwitch(*model_and_card, backend="tensorrt")


def test_torch_backend_is_the_model_itself(model_and_card):
    model, card = model_and_card
    switch = BackendSwitch(model, card, backend="torch")
    assert switch.active == "torch" and switch.num_classes == 11 and switch.output_stride == 16
    x = torch.randn(1, 3, 40, 56)
    with torch.inference_mode():
        assert torch.equal(switch(x), model(x))


@pytest.mark.slow
def test_onnxruntime_backend_predicts_like_torch_and_is_cached(model_and_card, cache):
    model, card = model_and_card
    torch_pred = Predictor(model, card, device="cpu").use_backend("torch")
    ort_pred = Predictor(model, card, device="cpu").use_backend("onnxruntime")
    assert torch_pred.backend == "torch"
    assert ort_pred.backend == "onnxruntime"
    for image in _images():
        a, b = torch_pred.predict(image), ort_pred.predict(image)
        assert a.shape == b.shape == image.shape[:2]
        assert (a == b).mean() >= 0.999
    digest = weights_digest(model, card)[:32]
    files = sorted(p.name for p in (cache / "onnx").iterdir())
    assert files == [f"{digest}.onnx", f"{digest}.verdict.json"]
    assert json.loads((cache / "onnx" / f"{digest}.verdict.json").read_text())["agreement"] >= 0.999
    # A second predictor for the same weights reuses the file; bf16 autocast goes to torch.
    mtime = (cache / "onnx" / f"{digest}.onnx").stat().st_mtime_ns
    auto = Predictor(model, card, device="cpu").use_backend("auto")
    assert auto.backend == "onnxruntime"  # at once, from the cache
    assert (cache / "onnx" / f"{digest}.onnx").stat().st_mtime_ns == mtime
    x = torch.randn(1, 3, 48, 64)
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        assert auto.model(x).dtype == torch.bfloat16  # onnxruntime returns float32


def test_auto_falls_back_to_torch_when_the_export_disagrees(model_and_card, cache):
    model, card = model_and_card
    card = dict(card, name="tiny-disagrees")
    digest = weights_digest(model, card)[:32]
    verdict = cache_dir() / "onnx" / f"{digest}.verdict.json"
    verdict.parent.mkdir(parents=True, exist_ok=True)
    verdict.write_text(json.dumps({"agreement": 0.95, "name": "tiny-disagrees"}))
    with pytest.raises(ModelError, match="disagrees with torch"):
        prepare_onnxruntime(model, card)
    messages = []
    switch = BackendSwitch(model, card, backend="auto", on_message=messages.append, background=False)
    assert switch.active == "torch"
    assert messages and "predicting with torch" in messages[0] and "95.000 %" in messages[0]


def test_auto_prepares_onnxruntime_from_the_third_image_on(model_and_card, cache, monkeypatch):
    import segstudio.nets.backends as backends

    model, card = model_and_card
    calls = []

    class FakeOrt(torch.nn.Module):
        def forward(self, x):
            return torch.full((x.shape[0], 11, *x.shape[2:]), 7.0)

    def fake_prepare(m, c, threads=None, cached_only=False):
        calls.append(cached_only)
        return None if cached_only else FakeOrt()

    monkeypatch.setattr(backends, "prepare_onnxruntime", fake_prepare)
    switch = BackendSwitch(model, dict(card, name="tiny-lazy"), backend="auto", background=False)
    x = torch.randn(1, 3, 32, 48)
    with torch.inference_mode():
        outs = [switch(x) for _ in range(4)]
    assert calls == [True, False]  # the cache was asked at once, the export on the third image
    assert [float(o.flatten()[0]) == 7.0 for o in outs] == [False, False, False, True]
    assert switch.active == "onnxruntime"


def test_a_module_in_training_mode_runs_on_torch(model_and_card):
    """Monte-Carlo dropout puts dropout layers in training mode: the eval-mode ONNX graph must not run then."""
    class Zeros(torch.nn.Module):
        def forward(self, x):
            return torch.zeros(x.shape[0], 11, *x.shape[2:])

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 11, 1), torch.nn.Dropout2d(0.5)).eval()
    switch = BackendSwitch(model, model_and_card[1], backend="torch")
    switch._ort = Zeros()
    x = torch.ones(1, 3, 8, 8)
    assert not switch(x).any()  # eval mode: the (stand-in) onnxruntime graph
    model[1].train()
    assert switch(x).any()  # a dropout layer in training mode: torch


class _Sevens(torch.nn.Module):
    def forward(self, x):
        return torch.full((x.shape[0], 11, *x.shape[2:]), 7.0)


def _fake_export_process(monkeypatch, code: str):
    """Replace the export process by `python -c CODE` (CODE may use FILES: the two cache paths);
    prepare_onnxruntime then finds a stand-in session once both files exist."""
    import subprocess
    import sys
    from pathlib import Path

    import segstudio.nets.backends as backends

    started = []

    def fake_start(source, files):
        started.append((source, files))
        Path(files[0]).parent.mkdir(parents=True, exist_ok=True)  # as the real starter does
        script = f"FILES = {[str(f) for f in files]!r}\n" + code
        return subprocess.Popen([sys.executable, "-c", script])

    def fake_prepare(m, c, threads=None, cached_only=False):
        assert cached_only  # the predicting process never exports itself
        files = started[-1][1] if started else []
        return _Sevens() if files and all(Path(f).is_file() for f in files) else None

    monkeypatch.setattr(backends, "_start_export_process", fake_start)
    monkeypatch.setattr(backends, "prepare_onnxruntime", fake_prepare)
    return started


def _auto_switch(model_and_card, name: str, source: str) -> tuple[BackendSwitch, list[str]]:
    model, card = model_and_card
    messages: list[str] = []
    switch = BackendSwitch(model, dict(card, name=name), backend="auto", source=source, on_message=messages.append)
    return switch, messages


def test_auto_exports_in_another_process_and_switches_when_it_is_ready(model_and_card, cache, monkeypatch):
    started = _fake_export_process(
        monkeypatch, "import pathlib, time\ntime.sleep(0.3)\nfor f in FILES: pathlib.Path(f).write_text('x')")
    switch, messages = _auto_switch(model_and_card, "tiny-process", "weights.safetensors")
    x = torch.randn(1, 3, 32, 48)
    with torch.inference_mode():
        first = [float(switch(x).flatten()[0]) for _ in range(3)]
        assert 7.0 not in first and switch.active == "torch"  # predictions go on with torch meanwhile
        assert [s[0] for s in started] == ["weights.safetensors"] and "background" in messages[0]
        assert switch.wait_ready(30)
        assert switch.active == "onnxruntime" and float(switch(x).flatten()[0]) == 7.0


def test_a_failed_export_process_leaves_torch_with_a_message(model_and_card, cache, monkeypatch):
    _fake_export_process(monkeypatch, "raise SystemExit(3)")
    switch, messages = _auto_switch(model_and_card, "tiny-fails", "w.safetensors")
    x = torch.randn(1, 3, 32, 48)
    with torch.inference_mode():
        for _ in range(3):
            switch(x)
    assert switch.wait_ready(30) and switch.active == "torch"
    assert "exit status 3" in messages[-1] and "predicting with torch" in messages[-1]
