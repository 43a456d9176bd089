"""Numeric options of `segstudio predict` / `eval` with absurd values (issue 25 item 2): argparse refuses
them (exit 2, the option named, no traceback) before any model is loaded or anything written."""

import numpy as np
import pytest
from PIL import Image

from segstudio.cli import main


@pytest.fixture
def image(tmp_path):
    path = tmp_path / "a.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(path)
    return path


@pytest.mark.parametrize("option,value,says", [
    ("--scale", "0", "scale must be a number from 0.01 to 8"), ("--scale", "-1", "from 0.01 to 8"),
    ("--scale", "nan", "from 0.01 to 8"), ("--scale", "inf", "from 0.01 to 8"), ("--scale", "1e9", "from 0.01 to 8"),
    ("--scale", "abc", "not a number"), ("--tta", "0", "invalid choice"), ("--tta", "nan", "invalid choice"),
    ("--tta", "-1", "invalid choice"), ("--tta", "inf", "invalid choice"),
    ("--workers", "-2", "workers must be a whole number from 1 to 256"), ("--workers", "0", "from 1 to 256"),
    ("--batch-size", "0", "batch size must be"), ("--batch-size", "99999999", "batch size must be"),
    ("--tile-size", "5", "tile size must be"), ("--tile-overlap", "-5", "tile overlap must be"),
])
def test_predict_refuses_absurd_option_values(tmp_path, image, capsys, option, value, says):
    out = tmp_path / "out"
    masks = tmp_path / "masks"
    masks.mkdir()
    (masks / "keep.png").write_bytes(b"user data")
    with pytest.raises(SystemExit) as stop:
        main(["predict", "--out", str(out), f"{option}={value}", str(image)])
    err = capsys.readouterr().err
    assert stop.value.code == 2
    assert f"argument {option}" in err and says in err and "Traceback" not in err
    assert not out.exists() and (masks / "keep.png").read_bytes() == b"user data"


@pytest.mark.parametrize("args", [["--tta", "0"], ["--workers", "-1"], ["--tta", "inf"]])
def test_eval_refuses_absurd_option_values(tmp_path, capsys, args):
    with pytest.raises(SystemExit) as stop:
        main(["eval", "--pred", str(tmp_path), "--gt", str(tmp_path), "--labels", "camvid", *args])
    assert stop.value.code == 2 and f"argument {args[0]}" in capsys.readouterr().err


def test_the_bounds_themselves_are_accepted(tmp_path, image, capsys):
    from segstudio.commands import arg_types

    assert arg_types.scale("0.01") == 0.01 and arg_types.scale("8") == 8.0
    assert arg_types.count(1, 256, "workers")("256") == 256
