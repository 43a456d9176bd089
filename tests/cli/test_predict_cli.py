"""`segstudio predict` and `segstudio models` run in-process on real files."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from segstudio.cli import main
from segstudio.core.imageio import read_label_png
from segstudio.core.labels import preset
from segstudio.nets import build_model
from segstudio.nets.checkpoint import make_card, save_checkpoint
from segstudio.nets.predictor import Predictor


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("SEGSTUDIO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SEGSTUDIO_SHIPPED_MODELS", str(tmp_path / "shipped"))
    return tmp_path / "home"


@pytest.fixture
def model_path(home):
    torch.manual_seed(0)
    model = build_model("segnet-basic", 11, width=0.125)
    card = make_card("segnet-basic", 0.125, preset("camvid"), metrics={"mean_iou": 0.4321})
    return save_checkpoint(home / "models" / "tiny-camvid", model, card)


def _img(path, w, h, seed=0):
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(path)
    return path


def test_predict_folder_and_files_skips_a_bad_image(tmp_path, model_path, capsys):
    src = tmp_path / "images"
    src.mkdir()
    _img(src / "a.png", 48, 32)
    _img(src / "b.jpg", 48, 32, seed=1)
    (src / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnope")
    single = _img(tmp_path / "c.png", 37, 29, seed=2)
    out = tmp_path / "out"
    rc = main(["predict", "--model", "tiny-camvid", "--out", str(out), "--batch-size", "2",
               str(src), str(single), str(tmp_path / "missing.png")])
    err = capsys.readouterr().err
    assert rc == 1
    assert "broken.png" in err and "missing.png: no such file or folder" in err
    assert "wrote 3 label PNG(s)" in err and "2 failed" in err
    assert "3/4 images" in err or "4/4 images" in err  # the progress bar
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.png", "c.png"]
    predictor = Predictor.from_checkpoint(model_path, device="cpu")
    for name, size in (("a", (48, 32)), ("b", (48, 32)), ("c", (37, 29))):
        png = Image.open(out / f"{name}.png")
        assert png.mode == "P" and png.size == size
        assert bytes(png.getpalette()[:33]) == preset("camvid").palette()[:33]
        source = next(p for p in [src / "a.png", src / "b.jpg", single] if p.stem == name)
        expected = predictor.predict(np.asarray(Image.open(source).convert("RGB")))
        assert np.array_equal(np.asarray(png), expected)


def test_predict_by_path_with_tiles(tmp_path, model_path, capsys):
    image = _img(tmp_path / "big.png", 300, 100)
    out = tmp_path / "out"
    assert main(["predict", "--model", str(model_path), "--device", "cpu", "--tile-size", "240",
                 "--quiet", "--out", str(out), str(image)]) == 0
    expected = Predictor.from_checkpoint(model_path, device="cpu", tile_size=240).predict(
        np.asarray(Image.open(image)))
    assert np.array_equal(np.asarray(Image.open(out / "big.png")), expected)


def test_predict_errors_are_clear(tmp_path, model_path, capsys):
    image = _img(tmp_path / "x.png", 20, 20)
    assert main(["predict", "--model", "nope", "--out", str(tmp_path / "o"), str(image)]) == 2
    assert "no model named 'nope'; available: tiny-camvid" in capsys.readouterr().err
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["predict", "--model", "tiny-camvid", "--out", str(blocker), str(image)]) == 2
    assert f"cannot write to the output folder {blocker}" in capsys.readouterr().err
    assert main(["predict", "--model", "tiny-camvid", "--out", str(tmp_path / "o"), str(tmp_path / "none")]) == 2
    assert "no images to predict" in capsys.readouterr().err
    other = tmp_path / "other"
    other.mkdir()
    _img(other / "x.jpg", 20, 20)
    assert main(["predict", "--model", "tiny-camvid", "--out", str(tmp_path / "o"), str(image), str(other)]) == 2
    assert "two inputs would write the same x.png" in capsys.readouterr().err
    if not torch.cuda.is_available():
        assert main(["predict", "--model", "tiny-camvid", "--device", "cuda", "--out", str(tmp_path / "o"),
                     str(image)]) == 2
        assert "CUDA is not available" in capsys.readouterr().err


def test_models_lists_and_shows_cards(home, model_path, capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "tiny-camvid" in out and "segnet-basic x0.125" in out and "11 classes (camvid)" in out
    assert "mIoU 43.2%" in out and "user" in out
    assert main(["models", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed[0]["name"] == "tiny-camvid" and listed[0]["card"]["arch"] == "segnet-basic"
    assert main(["models", "tiny-camvid", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["card"]["metrics"]["mean_iou"] == 0.4321


def test_models_when_there_are_none(home, capsys):
    assert main(["models"]) == 0
    assert "no models found" in capsys.readouterr().out
    assert main(["models", "missing-model"]) == 2
    assert "no model named 'missing-model'; available: none" in capsys.readouterr().err


def test_a_png_that_cannot_be_written_is_reported_and_the_rest_written(tmp_path, model_path, capsys):
    src = tmp_path / "images"
    src.mkdir()
    for name in ("a", "b", "c"):
        _img(src / f"{name}.png", 24, 16)
    out = tmp_path / "out"
    (out / "b.png").mkdir(parents=True)  # a folder where b.png should go
    assert main(["predict", "--model", "tiny-camvid", "--out", str(out), str(src)]) == 2  # exists: refused
    assert "already exist" in capsys.readouterr().err
    assert main(["predict", "--model", "tiny-camvid", "--overwrite", "--out", str(out), str(src)]) == 1
    err = capsys.readouterr().err
    assert f"cannot write {out / 'b.png'}" in err and "wrote 2 label PNG(s)" in err
    assert Image.open(out / "a.png").size == (24, 16) and Image.open(out / "c.png").size == (24, 16)


def test_predict_without_model_uses_the_default_model(tmp_path, home, capsys):
    src = _img(tmp_path / "one.png", 40, 30)
    assert main(["predict", "--out", str(tmp_path / "none"), str(src)]) == 2
    assert "no model found" in capsys.readouterr().err
    torch.manual_seed(0)
    card = make_card("segnet-basic", 0.125, preset("camvid"))
    save_checkpoint(tmp_path / "shipped" / "fcn8s-lite0-camvid", build_model("segnet-basic", 11, width=0.125), card)
    save_checkpoint(home / "models" / "another", build_model("segnet-basic", 11, width=0.125), card)
    assert main(["predict", "--out", str(tmp_path / "out"), str(src)]) == 0
    assert "model fcn8s-lite0-camvid" in capsys.readouterr().err
    assert read_label_png(tmp_path / "out" / "one.png").shape == (30, 40)


def _one_image(tmp_path):
    src = tmp_path / "images"
    src.mkdir()
    _img(src / "a.png", 64, 48)
    return src


def _spy(monkeypatch, method: str) -> list:
    """Record (arguments, result) of each call of Predictor.<method>."""
    calls, real = [], getattr(Predictor, method)

    def wrapper(self, *args):
        out = real(self, *args)
        calls.append((args, out))
        return out
    monkeypatch.setattr(Predictor, method, wrapper)
    return calls


def test_predict_scale_flag_reaches_the_predictor(tmp_path, model_path, capsys, monkeypatch):
    """--scale F resizes every image by F before the network; a bad factor is an error, not a crash."""
    src = _one_image(tmp_path)
    calls = _spy(monkeypatch, "working_factor")
    assert main(["predict", "--model", str(model_path), "--out", str(tmp_path / "m"), "--quiet",
                 "--scale", "0.5", str(src)]) == 0
    assert calls and {out for _, out in calls} == {0.5}
    assert read_label_png(tmp_path / "m" / "a.png").shape == (48, 64)
    with pytest.raises(SystemExit) as stop:  # refused by the parser, before the model loads
        main(["predict", "--model", str(model_path), "--out", str(tmp_path / "m2"), "--quiet", "--scale", "0", str(src)])
    assert stop.value.code == 2 and "scale must be a number from 0.01 to 8" in capsys.readouterr().err
    assert not (tmp_path / "m2" / "a.png").exists()


def test_predict_tta_flag_averages_views(tmp_path, model_path, capsys, monkeypatch):
    """--tta flip predicts each image and its mirror image; a bad choice is refused by the parser."""
    src = _one_image(tmp_path)
    calls = _spy(monkeypatch, "_predict_native")
    assert main(["predict", "--model", str(model_path), "--out", str(tmp_path / "m"), "--quiet",
                 "--tta", "flip", str(src)]) == 0
    views = [args[0] for args, _ in calls]
    assert len(views) == 2 and np.array_equal(views[1], views[0][:, ::-1])
    assert read_label_png(tmp_path / "m" / "a.png").shape == (48, 64)
    with pytest.raises(SystemExit):
        main(["predict", "--model", str(model_path), "--out", str(tmp_path / "m2"), "--tta", "rotate", str(src)])
    assert "invalid choice: 'rotate'" in capsys.readouterr().err


def test_predict_confidence_flag_saves_maps_the_studio_reads(tmp_path, model_path, capsys):
    from segstudio.core.assist.confidence_store import load_confidence

    src = tmp_path / "images"
    src.mkdir()
    for i in range(2):
        _img(src / f"f{i}.png", 64, 48, seed=i)
    out = tmp_path / "out"
    assert main(["predict", str(src), "--model", str(model_path), "--out", str(out), "--confidence", "--quiet"]) == 0
    for i in range(2):
        conf = load_confidence(out, f"f{i}", size=(64, 48))
        assert conf is not None and conf.dtype == np.uint8 and 0 < conf.mean() < 255
        assert read_label_png(out / f"f{i}.png").shape == (48, 64)
    # an existing confidence map is not replaced without --overwrite
    (out / "f0.png").unlink()
    assert main(["predict", str(src / "f0.png"), "--model", str(model_path), "--out", str(out),
                 "--confidence", "--quiet"]) == 2
    assert "confidence PNG" in capsys.readouterr().err
    assert not (out / "f0.png").exists()
