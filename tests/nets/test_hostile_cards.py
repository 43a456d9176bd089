"""Model cards with absurd values (issue 25 item 2): each is refused with a message naming the card file
and the field, by `read_card` and by `segstudio predict` (exit 2, no traceback, nothing written)."""

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

from segstudio.cli import main
from segstudio.core.labels import preset
from segstudio.nets import build_model
from segstudio.nets.checkpoint import make_card, read_card, save_checkpoint
from segstudio.nets.errors import ModelError


@pytest.fixture
def checkpoint(tmp_path):
    torch.manual_seed(0)
    card = make_card("segnet-basic", 0.125, preset("camvid"))
    card["input"]["train_short_side"] = 180
    return save_checkpoint(tmp_path / "m" / "tiny", build_model("segnet-basic", 11, width=0.125), card)


def _set(section, key, value):
    def edit(card):
        (card[section] if section else card)[key] = value
    return edit


CASES = [
    ("train_short_side 0", _set("input", "train_short_side", 0), "input.train_short_side"),
    ("train_short_side negative", _set("input", "train_short_side", -5), "input.train_short_side"),
    ("train_short_side NaN", _set("input", "train_short_side", math.nan), "input.train_short_side"),
    ("train_short_side inf", _set("input", "train_short_side", math.inf), "input.train_short_side"),
    ("train_short_side 1e9", _set("input", "train_short_side", 1e9), "input.train_short_side"),
    ("train_short_side text", _set("input", "train_short_side", "180"), "input.train_short_side"),
    ("train_short_side 0.5", _set("input", "train_short_side", 0.5), "input.train_short_side"),
    ("mean of 2", _set("input", "mean", [0.5, 0.5]), "input.mean"),
    ("mean of 4", _set("input", "mean", [0.5] * 4), "input.mean"),
    ("std of 2", _set("input", "std", [0.2, 0.2]), "input.std"),
    ("std with NaN", _set("input", "std", [0.2, math.nan, 0.2]), "input.std"),
    ("std with 0", _set("input", "std", [0.2, 0.0, 0.2]), "input.std"),
    ("channel order", _set("input", "channel_order", "XYZ"), "input.channel_order"),
    ("resize 0", _set("input", "resize", 0), "input.resize"),
    ("resize NaN", _set("input", "resize", math.nan), "input.resize"),
    ("resize 1e9", _set("input", "resize", 1e9), "input.resize"),
    ("scale NaN", _set("input", "scale", math.nan), "input.scale"),
    ("unknown arch", _set(None, "arch", "resnet9000"), "unknown architecture 'resnet9000'"),
    ("width NaN", _set(None, "width", math.nan), "width must be"),
    ("num_classes 1e9", _set(None, "num_classes", 10 ** 9), "num_classes"),
    ("input null", _set(None, "input", None), "input (normalisation)"),
]


@pytest.mark.parametrize("name,edit,field", CASES, ids=[c[0] for c in CASES])
def test_absurd_card_values_are_refused_naming_the_file_and_field(tmp_path, checkpoint, capsys, name, edit, field):
    card_file = checkpoint.with_suffix(".json")
    card = json.loads(card_file.read_text())
    edit(card)
    card_file.write_text(json.dumps(card, allow_nan=True))
    with pytest.raises(ModelError) as e:
        read_card(checkpoint)
    assert str(card_file) in str(e.value) and field in str(e.value)

    image = tmp_path / "a.png"
    Image.fromarray(np.zeros((6, 9, 3), np.uint8)).save(image)
    out = tmp_path / "out"
    rc = main(["predict", "--model", str(checkpoint), "--device", "cpu", "--quiet", "--out", str(out), str(image)])
    err = capsys.readouterr().err
    assert rc == 2 and str(card_file) in err and field in err and "Traceback" not in err
    assert not any(out.glob("*.png"))


@pytest.mark.parametrize("raw", ["{garbage", "", "[]", "{" * 100000])
def test_an_unreadable_card_is_refused_naming_it(checkpoint, raw):
    card_file = checkpoint.with_suffix(".json")
    card_file.write_text(raw)
    with pytest.raises(ModelError, match="tiny.json"):
        read_card(checkpoint)


def test_a_whole_train_short_side_written_as_a_float_is_accepted(checkpoint):
    card_file = checkpoint.with_suffix(".json")
    card = json.loads(card_file.read_text())
    card["input"]["train_short_side"] = 180.0
    card_file.write_text(json.dumps(card))
    assert read_card(checkpoint)["input"]["train_short_side"] == 180
