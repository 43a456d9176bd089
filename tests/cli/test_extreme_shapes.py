"""`segstudio predict` on images of extreme shapes (issue 25 item 1): each is predicted, within seconds,
at its own size; the card's 180-px training scale is bounded instead of making a 240,000-px array."""

import numpy as np
import pytest
import torch
from PIL import Image

from segstudio.cli import main
from segstudio.core.labels import preset
from segstudio.nets import build_model
from segstudio.nets.checkpoint import make_card, save_checkpoint


@pytest.fixture
def model_path(tmp_path):
    torch.manual_seed(0)
    card = make_card("segnet-basic", 0.125, preset("camvid"))
    card["input"]["train_short_side"] = 180  # as the shipped models: a 4000x3 image asks for 60x
    return save_checkpoint(tmp_path / "models" / "tiny", build_model("segnet-basic", 11, width=0.125), card)


SHAPES = [(4000, 3), (3, 4000), (1, 5000), (5000, 1), (100000, 2), (2, 100000), (1, 1)]


def test_the_4000x3_image_of_the_issue(tmp_path, model_path, capsys):
    _run(tmp_path, model_path, capsys, [(4000, 3)])


@pytest.mark.slow
def test_extreme_shapes_are_predicted_at_their_own_size(tmp_path, model_path, capsys):
    _run(tmp_path, model_path, capsys, SHAPES)


def _run(tmp_path, model_path, capsys, shapes):
    src = tmp_path / "images"
    src.mkdir()
    rng = np.random.default_rng(0)
    for w, h in shapes:
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(src / f"s{w}x{h}.png")
    out = tmp_path / "out"
    rc = main(["predict", "--model", str(model_path), "--device", "cpu", "--quiet", "--confidence",
               "--out", str(out), str(src)])
    err = capsys.readouterr().err
    assert rc == 0, err
    assert f"wrote {len(shapes)} label PNG(s)" in err and "Traceback" not in err
    assert err.count("image is predicted at") == min(3, len(shapes))  # the bounded scale is said (3 sizes at most)
    for w, h in shapes:
        assert Image.open(out / f"s{w}x{h}.png").size == (w, h)
        assert Image.open(out / ".confidence" / f"s{w}x{h}.png").size == (w, h)
